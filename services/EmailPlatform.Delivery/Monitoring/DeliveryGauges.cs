using System.Diagnostics.Metrics;
using EmailPlatform.Delivery.Relays;
using EmailPlatform.Delivery.Smtp;
using EmailPlatform.Delivery.Storage;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace EmailPlatform.Delivery.Monitoring;

/// <summary>
/// The worker's observable gauges:
/// <list type="bullet">
/// <item><c>emailplatform.queue.depth</c> {message} by <c>emailplatform.lane</c>: messages waiting in each lane's
/// RabbitMQ queue, read at most every 10 s (not exported on the in-memory bus).</item>
/// <item><c>emailplatform.relay.connections.in_use</c> {connection} by relay: this replica's pooled connections
/// carrying a message.</item>
/// <item><c>emailplatform.relay.breaker.state</c> {state} by relay: 0 closed, 1 half-open, 2 open, as this replica
/// sees it.</item>
/// <item><c>emailplatform.retry.pending</c> {recipient}: deferred recipients waiting for their next attempt, counted
/// in the shared store at most every 10 s.</item>
/// <item><c>emailplatform.content.in_flight</c> By and <c>emailplatform.content.waiting</c> {email}: this replica's share
/// of <c>Delivery:MaxContentBytesInFlight</c> taken by emails whose content is in the store, and the emails waiting for
/// theirs (<see cref="Sending.ContentBudget"/>). Waiting emails with the budget full say the budget, not the relays,
/// holds the worker back.</item>
/// </list>
/// The queue depth and the pending retries are the same for every replica (one broker, one store): aggregate them
/// with <c>max</c>, not <c>sum</c>. A hosted service only so that the instruments exist from the start.
/// </summary>
internal sealed class DeliveryGauges : IHostedService
{
    private static readonly TimeSpan MaxAge = TimeSpan.FromSeconds(10);

    private readonly CachedReading<long> _pending;
    private readonly CachedReading<IReadOnlyDictionary<string, long>>? _depths;

    public DeliveryGauges(
        IMeterFactory meterFactory,
        IOptions<DeliveryOptions> options,
        RelayRouter router,
        SmtpConnectionPools pools,
        Sending.ContentBudget content,
        IServiceScopeFactory scopes,
        TimeProvider time,
        ILogger<DeliveryGauges> logger,
        LaneDepths? lanes = null)
    {
        var meter = meterFactory.Create(DeliveryTelemetry.Name);
        var relays = options.Value.Relays;
        _pending = new CachedReading<long>(ct => CountPendingAsync(scopes, ct), MaxAge, time, ex => Log.ReadFailed(logger, ex, "emailplatform.retry.pending"));

        meter.CreateObservableGauge("emailplatform.relay.connections.in_use",
            () => relays.Select(r => new Measurement<int>(pools.For(r).InUse, new KeyValuePair<string, object?>(DeliveryTelemetry.Relay, r.Name))),
            "{connection}", "Pooled SMTP connections of this worker carrying a message, per relay.");
        meter.CreateObservableGauge("emailplatform.relay.breaker.state",
            () => relays.Select(r => new Measurement<int>((int)router.BreakerState(r), new KeyValuePair<string, object?>(DeliveryTelemetry.Relay, r.Name))),
            "{state}", "The relay's circuit breaker as this worker sees it: 0 closed, 1 half-open, 2 open.");
        meter.CreateObservableGauge("emailplatform.retry.pending",
            () => _pending.TryGet(out var pending) ? [new Measurement<long>(pending)] : Array.Empty<Measurement<long>>(),
            "{recipient}", "Deferred recipients waiting for their next attempt (the whole store: aggregate with max).");
        meter.CreateObservableGauge("emailplatform.content.in_flight", () => content.InUse,
            "By", "Bytes of stored email content this worker holds to send (bounded by Delivery:MaxContentBytesInFlight).");
        meter.CreateObservableGauge("emailplatform.content.waiting", () => content.Waiting,
            "{email}", "Emails with stored content waiting for a share of Delivery:MaxContentBytesInFlight before their content is loaded.");

        if (lanes is not null)
        {
            _depths = new CachedReading<IReadOnlyDictionary<string, long>>(lanes.ReadAsync, MaxAge, time,
                ex => Log.ReadFailed(logger, ex, "emailplatform.queue.depth"));
            meter.CreateObservableGauge("emailplatform.queue.depth",
                () => _depths.TryGet(out var depths)
                    ? depths.Select(d => new Measurement<long>(d.Value, new KeyValuePair<string, object?>(DeliveryTelemetry.Lane, d.Key)))
                    : [],
                "{message}", "Messages waiting in each priority lane's queue (the whole broker: aggregate with max).");
        }
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _ = _pending.RefreshAsync();
        _ = _depths?.RefreshAsync();
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    private static async Task<long> CountPendingAsync(IServiceScopeFactory scopes, CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<DeliveryDbContext>();
        // Deferred rows always have a due time: the due_at index keeps this off the (large) table of final records.
        return await db.Deliveries.LongCountAsync(d => d.DueAt != null && d.State == DeliveryState.Deferred, cancellationToken);
    }
}
