using System.Diagnostics.Metrics;

namespace EmailPlatform.Ingress.Outbox;

/// <summary>
/// <c>emailplatform.outbox.parked</c> {message}: outbox rows parked because their payload cannot be read (see
/// <see cref="OutboxPublisher.Parked"/>). Each is an accepted email, or a change to one, that never reaches the bus
/// until an operator acts, so any value above zero wants a look. The count is a query over the shared store, so the
/// publisher refreshes it every <see cref="Refresh"/> and the gauge reports the last count: the same for every
/// replica, aggregate it with <c>max</c>, not <c>sum</c>.
/// </summary>
internal sealed class OutboxParkedGauge
{
    public static readonly TimeSpan Refresh = TimeSpan.FromSeconds(10);

    private long _parked = -1;

    public OutboxParkedGauge(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(OutboxTelemetry.Name);
        meter.CreateObservableGauge("emailplatform.outbox.parked", Observe, "{message}",
            "Outbox rows parked because they cannot be read: never published until an operator acts (the whole store: aggregate with max).");
    }

    public void Set(long count) => Interlocked.Exchange(ref _parked, count);

    /// <summary>Nothing until the publisher has counted once: no number is better than a made-up zero.</summary>
    private IEnumerable<Measurement<long>> Observe()
    {
        var parked = Interlocked.Read(ref _parked);
        return parked < 0 ? [] : [new Measurement<long>(parked)];
    }
}
