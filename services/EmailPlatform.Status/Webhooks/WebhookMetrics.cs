using System.Diagnostics.Metrics;
using EmailPlatform.Status.Recording;

namespace EmailPlatform.Status.Webhooks;

/// <summary>
/// Webhook health: each HTTP attempt's outcome and duration, failures by kind (<c>error.type</c>: the status class
/// such as <c>5xx</c>, or <c>timeout</c>, <c>connection</c>, <c>refused_target</c>), and the deliveries due but not yet
/// delivered. The pending count is a query, so the dispatcher refreshes it at most every
/// <see cref="PendingRefresh"/> and the gauge reports the last count.
/// </summary>
public sealed class WebhookMetrics
{
    public static readonly TimeSpan PendingRefresh = TimeSpan.FromSeconds(10);

    private readonly Counter<long> _deliveries;
    private readonly Counter<long> _failures;
    private readonly Histogram<double> _duration;
    private long _pending = -1;

    public WebhookMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(RecordingMetrics.MeterName);
        _deliveries = meter.CreateCounter<long>("emailplatform.webhook.deliveries", "{delivery}", "Webhook HTTP attempts, by outcome.");
        _failures = meter.CreateCounter<long>("emailplatform.webhook.failures", "{delivery}", "Failed webhook HTTP attempts, by kind of failure.");
        _duration = meter.CreateHistogram<double>("emailplatform.webhook.delivery.duration", "s", "Duration of one webhook HTTP attempt.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30] });
        meter.CreateObservableGauge("emailplatform.webhook.pending", ObservePending, "{delivery}", "Webhook deliveries due and not yet delivered.");
    }

    public void Attempted(WebhookAttemptResult result)
    {
        _deliveries.Add(1, new KeyValuePair<string, object?>("emailplatform.outcome", result.Succeeded ? "success" : "failure"));
        if (!result.Succeeded)
        {
            _failures.Add(1, new KeyValuePair<string, object?>("error.type", result.ErrorType ?? "other"));
        }

        _duration.Record(result.LatencyMs / 1000.0);
    }

    public void SetPending(long count) => Interlocked.Exchange(ref _pending, count);

    /// <summary>Nothing until the dispatcher has counted once: no number is better than a made-up zero.</summary>
    private IEnumerable<Measurement<long>> ObservePending()
    {
        var pending = Interlocked.Read(ref _pending);
        return pending < 0 ? [] : [new Measurement<long>(pending)];
    }
}
