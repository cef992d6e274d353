using System.Diagnostics;
using System.Diagnostics.Metrics;
using EmailPlatform.Delivery.Smtp;

namespace EmailPlatform.Delivery;

/// <summary>
/// Per-recipient outcome counters (<c>emailplatform.delivered</c>, <c>.deferred</c>, <c>.bounced</c>) and the
/// duration of each SMTP attempt, all tagged with the relay.
/// </summary>
internal sealed class DeliveryMetrics
{
    private readonly Counter<long> _delivered;
    private readonly Counter<long> _deferred;
    private readonly Counter<long> _bounced;
    private readonly Histogram<double> _attemptDuration;

    public DeliveryMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(DeliveryTelemetry.Name);
        _delivered = meter.CreateCounter<long>("emailplatform.delivered", "{recipient}", "Recipients the relay accepted.");
        _deferred = meter.CreateCounter<long>("emailplatform.deferred", "{recipient}", "Recipients deferred by a 4xx reply or a transport fault.");
        _bounced = meter.CreateCounter<long>("emailplatform.bounced", "{recipient}", "Recipients bounced by a 5xx reply.");
        _attemptDuration = meter.CreateHistogram<double>("emailplatform.smtp.attempt.duration", "s",
            "Duration of one SMTP attempt: connect, envelope and data.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60] });
    }

    /// <remarks>
    /// <see cref="RecipientOutcomeKind.Failed"/> is not counted yet: an <c>emailplatform.failed</c> counter needs a
    /// panel on the shared dashboard (deploy/grafana), which the deployment tests require for every own series; nor is
    /// <see cref="RecipientOutcomeKind.Suppressed"/> (no relay involved), for the same reason.
    /// </remarks>
    public void RecordOutcome(string relay, RecipientOutcomeKind kind)
    {
        if (kind is RecipientOutcomeKind.Failed or RecipientOutcomeKind.Suppressed)
        {
            return;
        }

        var counter = kind switch
        {
            RecipientOutcomeKind.Delivered => _delivered,
            RecipientOutcomeKind.Bounced => _bounced,
            _ => _deferred,
        };
        counter.Add(1, new KeyValuePair<string, object?>(DeliveryTelemetry.Relay, relay));
    }

    public void RecordAttempt(string relay, TimeSpan duration, string? errorType)
    {
        var tags = new TagList { { DeliveryTelemetry.Relay, relay } };
        if (errorType is not null)
        {
            tags.Add(DeliveryTelemetry.ErrorType, errorType);
        }

        _attemptDuration.Record(duration.TotalSeconds, tags);
    }
}
