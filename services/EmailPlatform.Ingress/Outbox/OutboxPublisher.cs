using EmailPlatform.Ingress.Storage;
using System.Diagnostics;
using System.Text.Json;
using EmailPlatform.Contracts;
using EmailPlatform.ServiceDefaults.Hosting;
using EmailPlatform.ServiceDefaults.Messaging;
using EmailPlatform.ServiceDefaults.Telemetry;
using MassTransit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace EmailPlatform.Ingress.Outbox;

/// <summary>
/// Moves due outbox messages onto the bus, waits for the broker's confirms, then marks them published in the
/// same transaction that locked them. A crash between confirm and commit publishes them again, which every
/// consumer tolerates (at-least-once, idempotent). Events are published; <see cref="SendEmail"/> is sent into its
/// priority lane (<see cref="DeliveryLanes"/>). Events go out before commands, so the status service hears
/// of an email before any worker can report on it. With PostgreSQL, rows are claimed with
/// <c>FOR UPDATE SKIP LOCKED</c>: several ingress replicas never publish the same message together, and a
/// cancel waits for a batch in flight. Only rows of a type this version knows are claimed
/// (<see cref="OutboxMessageTypes.Known"/>): in a rolling upgrade a row of a newer type waits for a newer replica. A
/// row of a known type whose payload cannot be read is logged and parked, so it never blocks the rows behind it, and
/// counted (<see cref="OutboxParkedGauge"/>). While the broker is down the ingress keeps accepting; this loop backs
/// off and catches up afterwards. It wakes when signalled, and otherwise every poll interval, which is also
/// how scheduled emails leave on time.
/// </summary>
internal sealed class OutboxPublisher(
    IServiceScopeFactory scopes,
    IBus bus,
    OutboxSignal signal,
    OutboxParkedGauge parkedGauge,
    IOptions<OutboxOptions> options,
    TimeProvider clock,
    ILogger<OutboxPublisher> logger) : BackgroundService
{
    /// <summary>The <c>available_at</c> of a parked row: never due. Find them with <c>published_at IS NULL AND available_at = '9999-12-31'</c>.</summary>
    internal static readonly DateTime Parked = new(9999, 12, 31, 0, 0, 0, DateTimeKind.Utc);
    private readonly OutboxOptions _options = options.Value;

    protected override Task ExecuteAsync(CancellationToken stoppingToken) => Task.WhenAll(
        signal.RunAsync(
            async cancellationToken => await PublishBatchAsync(cancellationToken) == _options.BatchSize,
            () => _options.PollInterval,
            (ex, backoff) => Log.PublishFailed(logger, ex, backoff),
            clock,
            stoppingToken),
        PeriodicWork.RunAsync(CountParkedAsync, () => OutboxParkedGauge.Refresh, ex => Log.CountParkedFailed(logger, ex), clock, stoppingToken));

    internal async Task<int> PublishBatchAsync(CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<IngressDbContext>();
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);

        var now = clock.GetUtcNow().UtcDateTime;
        var batch = await ClaimDueAsync(db, now, cancellationToken);
        if (batch.Count == 0)
        {
            return 0;
        }

        var publishable = new List<(OutboxMessage Row, object Message, Type Type)>(batch.Count * 3);
        var published = new List<Guid>(batch.Count);
        var parked = new List<Guid>();
        foreach (var row in batch)
        {
            if (Read(row) is { } messages)
            {
                publishable.AddRange(messages.Select(m => (row, m.Message, m.Type)));
                published.Add(row.Id);
            }
            else
            {
                // A row of a known type that can never be published must not hold back the rows behind it: it is
                // parked (left unpublished, never due again) for an operator to inspect, and logged as an error.
                parked.Add(row.Id);
            }
        }

        using (var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
        {
            timeout.CancelAfter(_options.PublishTimeout);
            await Task.WhenAll(publishable.Where(m => m.Message is not SendEmail).Select(m => PublishAsync(m, timeout.Token)));
            await Task.WhenAll(publishable.Where(m => m.Message is SendEmail).Select(m => PublishAsync(m, timeout.Token)));
        }

        // One statement for the batch (not one UPDATE per row): the rows are still locked by this transaction.
        await db.OutboxMessages.Where(m => published.Contains(m.Id))
            .ExecuteUpdateAsync(set => set.SetProperty(m => m.PublishedAt, now), cancellationToken);
        if (parked.Count > 0)
        {
            await db.OutboxMessages.Where(m => parked.Contains(m.Id))
                .ExecuteUpdateAsync(set => set.SetProperty(m => m.AvailableAt, Parked), cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
        if (published.Count > 0)
        {
            var emails = publishable.Count(m => m.Message is SendEmail);
            OutboxTelemetry.Published.Add(emails);
            OutboxTelemetry.RecordLag(now - publishable.Min(m => m.Row.AvailableAt));
            Log.Published(logger, emails);
        }

        return batch.Count;
    }

    /// <summary>
    /// The due rows of the types this version knows. A row of another type is not claimed, so it is neither published
    /// nor parked here: it stays due for a replica of the version that wrote it.
    /// </summary>
    private Task<List<OutboxMessage>> ClaimDueAsync(IngressDbContext db, DateTime now, CancellationToken cancellationToken)
    {
        var size = _options.BatchSize;
        string[] known = [.. OutboxMessageTypes.Known];
        var due = db.Database.IsNpgsql()
            ? db.OutboxMessages.FromSql($"""
                SELECT * FROM outbox_messages
                WHERE published_at IS NULL AND available_at <= {now} AND message_type = ANY({known})
                ORDER BY available_at, id
                LIMIT {size}
                FOR UPDATE SKIP LOCKED
                """)
            : db.OutboxMessages.Where(m => m.PublishedAt == null && m.AvailableAt <= now && known.Contains(m.MessageType))
                .OrderBy(m => m.AvailableAt).ThenBy(m => m.Id).Take(size);
        return due.AsNoTracking().ToListAsync(cancellationToken);
    }

    /// <summary>Every <see cref="OutboxParkedGauge.Refresh"/>: the parked rows of the whole store, for the gauge.</summary>
    private async Task CountParkedAsync(CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<IngressDbContext>();
        // The partial index on (available_at, id) of unpublished rows keeps this at the far end of that index.
        parkedGauge.Set(await db.OutboxMessages.LongCountAsync(m => m.PublishedAt == null && m.AvailableAt == Parked, cancellationToken));
    }

    /// <summary>The row's messages, or null (logged) when its payload is unreadable.</summary>
    private IReadOnlyList<(object Message, Type Type)>? Read(OutboxMessage row)
    {
        try
        {
            return OutboxMessageTypes.Read(row);
        }
        catch (Exception ex) when (ex is InvalidOperationException or JsonException or NotSupportedException or ArgumentException)
        {
            Log.Unpublishable(logger, ex, row.Id, row.EmailId, row.MessageType);
            return null;
        }
    }

    private async Task PublishAsync((OutboxMessage Row, object Message, Type Type) item, CancellationToken cancellationToken)
    {
        var (row, message, type) = item;
        ActivityContext.TryParse(row.TraceParent, null, out var parent);
        using var activity = OutboxTelemetry.Source.StartActivity("outbox publish " + type.Name, ActivityKind.Producer, parent);
        EmailTelemetry.SetEmailId(activity, row.EmailId);
        if (message is SendEmail command)
        {
            // The command goes to its priority lane; the events are published to whoever subscribes.
            await DeliveryLanes.SendAsync(bus, command, cancellationToken);
        }
        else
        {
            await bus.Publish(message, type, cancellationToken);
        }
    }
}
