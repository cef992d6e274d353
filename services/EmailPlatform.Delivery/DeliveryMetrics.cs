using System.Diagnostics;
using System.Diagnostics.Metrics;
using EmailPlatform.Contracts;
using EmailPlatform.Delivery.Storage;

namespace EmailPlatform.Delivery;

/// <summary>
/// The worker's counters and histograms (issue 6 §2): one count per recipient outcome
/// (<c>emailplatform.delivered</c>, <c>.deferred</c>, <c>.bounced</c>, <c>.failed</c>, <c>.suppressed</c>) tagged with
/// the relay, the priority lane and the RFC 3463 class or failure reason; the duration of each SMTP attempt; and
/// the time from when the email was due (<see cref="Sending.DueTime"/>) to the relay's 250. The gauges are in
/// <see cref="DeliveryGauges"/>.
/// </summary>
internal sealed class DeliveryMetrics
{
    private readonly Counter<long> _delivered;
    private readonly Counter<long> _deferred;
    private readonly Counter<long> _bounced;
    private readonly Counter<long> _failed;
    private readonly Counter<long> _suppressed;
    private readonly Histogram<double> _attemptDuration;
    private readonly Histogram<double> _timeToDelivered;
    private readonly TimeProvider _time;

    public DeliveryMetrics(IMeterFactory meterFactory, TimeProvider? time = null)
    {
        _time = time ?? TimeProvider.System;
        var meter = meterFactory.Create(DeliveryTelemetry.Name);
        _delivered = meter.CreateCounter<long>("emailplatform.delivered", "{recipient}", "Recipients the relay accepted.");
        _deferred = meter.CreateCounter<long>("emailplatform.deferred", "{recipient}", "Recipients deferred by a 4xx reply or a transport fault.");
        _bounced = meter.CreateCounter<long>("emailplatform.bounced", "{recipient}", "Recipients bounced by a 5xx reply.");
        _failed = meter.CreateCounter<long>("emailplatform.failed", "{recipient}",
            "Recipients the platform gave up on without a permanent reply (expired, rejected, fault, unsupported, lost).");
        _suppressed = meter.CreateCounter<long>("emailplatform.suppressed", "{recipient}", "Recipients not sent because they are on the suppression list.");
        _attemptDuration = meter.CreateHistogram<double>("emailplatform.smtp.attempt.duration", "s",
            "Duration of one SMTP attempt: connect, envelope and data.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60] });
        _timeToDelivered = meter.CreateHistogram<double>("emailplatform.time_to_delivered", "s",
            "Time from when the email was due (its acceptance, or its scheduled time) to the relay's 250 for a recipient, retries included.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 14400, 86400] });
    }

    /// <summary>Counts the outcome just recorded for one recipient of an email of <paramref name="priority"/>.</summary>
    /// <param name="dueAt">When the email was due (<see cref="Sending.DueTime"/>), for <c>emailplatform.time_to_delivered</c>.</param>
    public void RecordOutcome(DeliveryRecord record, EmailPriority? priority, DateTimeOffset? dueAt = null)
    {
        var lane = PriorityTag(priority);
        switch (record.State)
        {
            case DeliveryState.Delivered:
                _delivered.Add(1, new TagList { { DeliveryTelemetry.Relay, record.Relay ?? "none" }, { DeliveryTelemetry.Priority, lane } });
                if (dueAt is { } due)
                {
                    _timeToDelivered.Record(Math.Max(0, (_time.GetUtcNow() - due).TotalSeconds), new TagList { { DeliveryTelemetry.Priority, lane } });
                }

                break;
            case DeliveryState.Bounced:
                _bounced.Add(1, RelayTags(record, lane));
                break;
            case DeliveryState.Deferred:
                _deferred.Add(1, RelayTags(record, lane));
                break;
            case DeliveryState.Failed:
                _failed.Add(1, new TagList { { DeliveryTelemetry.Priority, lane }, { DeliveryTelemetry.Reason, record.FailedAs ?? FailureKind.Fault } });
                break;
            case DeliveryState.Suppressed:
                _suppressed.Add(1, new TagList { { DeliveryTelemetry.Priority, lane } });
                break;
        }
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

    /// <summary>
    /// The RFC 3463 class and subject (<c>5.1</c> of <c>5.1.1</c>); a reply without an enhanced code gives its
    /// code's class with the undefined subject (<c>4.0</c>, RFC 3463's "other"); no reply at all (a transport fault)
    /// gives <c>none</c>. Bounded cardinality, unlike the full code or the reply text.
    /// </summary>
    internal static string EnhancedClass(string? enhancedCode, int? replyCode)
    {
        if (enhancedCode is { Length: > 0 })
        {
            var second = enhancedCode.IndexOf('.', 2);
            return second > 0 ? enhancedCode[..second] : enhancedCode;
        }

        return replyCode is { } code ? $"{code / 100}.0" : "none";
    }

    private static TagList RelayTags(DeliveryRecord record, string lane) => new()
    {
        { DeliveryTelemetry.Relay, record.Relay ?? "none" },
        { DeliveryTelemetry.Priority, lane },
        { DeliveryTelemetry.EnhancedClass, EnhancedClass(record.EnhancedCode, record.ReplyCode) },
    };

    private static string PriorityTag(EmailPriority? priority) => priority switch
    {
        EmailPriority.High => "high",
        EmailPriority.Normal => "normal",
        EmailPriority.Bulk => "bulk",
        _ => "unknown",
    };
}
