using EmailPlatform.Ingress.Storage;
using System.Diagnostics;
using System.Runtime.ExceptionServices;
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
/// Moves due outbox messages onto the bus. A batch is claimed first, in a transaction of its own
/// (<see cref="OutboxMessage.PublishingUntil"/>), so that from the moment the broker may have an email's command a
/// cancel or reschedule answers that it was handed to delivery, whatever happens next. Then its messages are published,
/// the broker's confirms awaited, and the rows confirmed are marked published. A crash or store error before that mark
/// publishes them again once the claim's lease ends, which every consumer tolerates (at-least-once, idempotent). Each
/// row's outcome is its own: a row that cannot be published while the rest of its batch can (its lane's queue deleted,
/// a message the broker refuses) is logged and tried again after the lease, and never holds back the rows behind it,
/// even when a whole batch is made of such rows.
/// Events are published; <see cref="SendEmail"/> is sent into its priority lane (<see cref="DeliveryLanes"/>). Events go
/// out before commands, so the status service hears of an email before any worker can report on it. With PostgreSQL,
/// rows are claimed with <c>FOR UPDATE SKIP LOCKED</c>: several ingress replicas never claim the same message together.
/// Only rows of a type this version knows are claimed (<see cref="OutboxMessageTypes.Known"/>): in a rolling upgrade a
/// row of a newer type waits for a newer replica. A row of a known type whose payload cannot be read is logged and
/// parked, so it never blocks the rows behind it, and counted (<see cref="OutboxParkedGauge"/>). While the bus cannot
/// reach the broker nothing is claimed, so every waiting email stays cancelable; the ingress keeps accepting, and this
/// loop backs off and catches up afterwards. A batch that failed as a whole (the broker lost mid-batch) is claimed
/// again before any other. It wakes when signalled, and otherwise every poll interval, which is also how scheduled
/// emails leave on time.
/// </summary>
internal sealed class OutboxPublisher(
    IServiceScopeFactory scopes,
    IBusControl bus,
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
        if (bus.CheckHealth() is { Status: BusHealthStatus.Unhealthy } health)
        {
            // Not connected to the broker (or not started yet): nothing is claimed, so every email waiting stays
            // cancelable. The loop backs off and looks again.
            throw new BrokerUnavailableException(health.Description, health.Exception);
        }

        var now = clock.GetUtcNow().UtcDateTime;
        var (batch, until) = await ClaimAsync(db, now, cancellationToken);
        if (batch.Count == 0)
        {
            return 0;
        }

        var publishable = new List<(OutboxMessage Row, object Message, Type Type)>(batch.Count * 3);
        var parked = new List<Guid>();
        foreach (var row in batch)
        {
            if (Read(row) is { } messages)
            {
                publishable.AddRange(messages.Select(m => (row, m.Message, m.Type)));
            }
            else
            {
                // A row of a known type that can never be published must not hold back the rows behind it: it is
                // parked (left unpublished, never due again) for an operator to inspect, and logged as an error.
                parked.Add(row.Id);
            }
        }

        // Each row's outcome is its own: one that cannot be published (its lane's queue gone, a message the broker
        // refuses) fails alone, and the rest of the batch is marked published instead of being sent again and again.
        var outcomes = publishable.GroupBy(m => m.Row.Id).ToDictionary(g => g.Key, g => new RowOutcome(g.First().Row, g.Count()));
        using (var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
        {
            timeout.CancelAfter(_options.PublishTimeout);
            await PublishAllAsync(publishable.Where(m => m.Message is not SendEmail), outcomes, timeout.Token);
            // No command leaves before its email's events: the status service hears of an email before any worker can
            // report on it. The command of an email with an event that failed waits, unsent, for the next attempt.
            var eventFailed = outcomes.Values.Where(o => o.Error is not null).Select(o => o.Row.EmailId).ToHashSet();
            await PublishAllAsync(publishable.Where(m => m.Message is SendEmail && !eventFailed.Contains(m.Row.EmailId)), outcomes, timeout.Token);
        }

        var published = outcomes.Values.Where(o => o.Published).Select(o => o.Row.Id).ToList();
        var untried = outcomes.Values.Where(o => o.Attempted == 0).Select(o => o.Row.Id).ToList();
        var unfinished = outcomes.Values.Where(o => o is { Published: false, Attempted: > 0 }).ToList();

        // Nothing went through, and not because the broker returned each of these rows' messages: it is likely
        // unreachable. A batch the broker answered row by row (every row's command returned, its lane's queue gone) is
        // no outage: those rows keep their lease like any other row that failed alone, or, once there were a batch of
        // them, they would be claimed first again and again and nothing behind them would ever leave.
        var failedWhole = published.Count == 0 && unfinished.Count > 0 && !unfinished.All(o => RefusedAlone(o.Error));

        // Not cancelled by shutdown: what the broker confirmed is marked, or it would be sent again.
        await MarkAsync(db, batch, until, published, parked, untried, failedWhole ? [.. unfinished.Select(o => o.Row.Id)] : []);
        if (failedWhole)
        {
            // The loop backs off and then claims these rows again first (MarkAsync ended their lease), so an outage
            // holds one batch, not more and more of the outbox.
            ExceptionDispatchInfo.Throw(unfinished.First(o => o.Error is not null).Error!);
        }

        foreach (var outcome in unfinished)
        {
            Log.RowNotPublished(logger, outcome.Error, outcome.Row.Id, outcome.Row.EmailId, outcome.Row.MessageType, _options.PublishLease);
        }

        if (published.Count > 0)
        {
            var emails = publishable.Count(m => m.Message is SendEmail && outcomes[m.Row.Id].Published);
            OutboxTelemetry.Published.Add(emails);
            OutboxTelemetry.RecordLag(now - outcomes.Values.Where(o => o.Published).Min(o => o.Row.AvailableAt));
            Log.Published(logger, emails);
        }

        return batch.Count;
    }

    /// <summary>
    /// Claims the due rows of the types this version knows, in one committed transaction, by setting their
    /// <see cref="OutboxMessage.PublishingUntil"/>: from then on a cancel or reschedule finds them taken (the broker
    /// may get them any moment), and other publishers leave them alone until the lease ends. A row of another type is
    /// not claimed: it stays due for a replica of the version that wrote it. With PostgreSQL the rows are locked
    /// (<c>FOR UPDATE SKIP LOCKED</c>) while they are claimed: a cancel holding one is skipped, and a cancel waiting for
    /// one finds it taken. Returns the batch and the end of its lease, the claim's own mark: <see cref="MarkAsync"/>
    /// changes only the rows that still carry it.
    /// </summary>
    private async Task<(List<OutboxMessage> Batch, DateTime Until)> ClaimAsync(IngressDbContext db, DateTime now, CancellationToken cancellationToken)
    {
        var size = _options.BatchSize;
        string[] known = [.. OutboxMessageTypes.Known];
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        var due = db.Database.IsNpgsql()
            ? db.OutboxMessages.FromSql($"""
                SELECT * FROM outbox_messages
                WHERE published_at IS NULL AND available_at <= {now} AND message_type = ANY({known})
                    AND (publishing_until IS NULL OR publishing_until <= {now})
                ORDER BY available_at, id
                LIMIT {size}
                FOR UPDATE SKIP LOCKED
                """)
            : db.OutboxMessages.Where(m => m.PublishedAt == null && m.AvailableAt <= now && known.Contains(m.MessageType)
                    && (m.PublishingUntil == null || m.PublishingUntil <= now))
                .OrderBy(m => m.AvailableAt).ThenBy(m => m.Id).Take(size);
        var batch = await due.AsNoTracking().ToListAsync(cancellationToken);
        // Whole microseconds, as PostgreSQL keeps them (SQLite keeps the text of every tick): the value read back, and
        // compared by MarkAsync, is the one written.
        var until = now + _options.PublishLease;
        until = until.AddTicks(-(until.Ticks % 10));
        if (batch.Count > 0)
        {
            var ids = batch.ConvertAll(m => m.Id);
            await db.OutboxMessages.Where(m => ids.Contains(m.Id)).ExecuteUpdateAsync(set => set.SetProperty(m => m.PublishingUntil, until), cancellationToken);
            await transaction.CommitAsync(cancellationToken);
        }

        return (batch, until);
    }

    /// <summary>
    /// Writes what became of a claimed batch, in one transaction, one statement per kind: <paramref name="published"/> (confirmed by the
    /// broker), <paramref name="parked"/> (unreadable: never sent, so a cancel still finds them), <paramref name="unsent"/>
    /// (not tried: released) and <paramref name="retryFirst"/> (tried in a batch that failed as a whole: their lease
    /// ends now, so the next attempt takes them again before any other row). A failed row of a batch that otherwise
    /// went through keeps its lease, and is tried again once it ends.
    /// Only the rows this round still holds are changed: those whose <see cref="OutboxMessage.PublishingUntil"/> is still
    /// <paramref name="until"/>, as its claim wrote it. A round that outlived its lease (a long pause, a confirm held back
    /// by a broker's memory alarm, clocks apart) may find rows claimed by another publisher since: releasing them would
    /// make an email that publisher is sending cancelable, and ending their lease would have a third publisher send them
    /// again. Such rows are left to the publisher that holds them, and logged.
    /// </summary>
    private async Task MarkAsync(
        IngressDbContext db, List<OutboxMessage> batch, DateTime until, List<Guid> published, List<Guid> parked, List<Guid> unsent, List<Guid> retryFirst)
    {
        var now = clock.GetUtcNow().UtcDateTime;
        await using var transaction = await db.Database.BeginTransactionAsync(CancellationToken.None);
        Guid[] claimed = [.. batch.Select(m => m.Id)];
        // With PostgreSQL the rows still held are locked first: no other publisher claims them until this commits. In id
        // order, as a cancel or reschedule locks an email's rows, so that the two never wait for each other crosswise.
        var held = (db.Database.IsNpgsql()
            ? await db.Database.SqlQuery<Guid>($"""
                SELECT id AS "Value" FROM outbox_messages WHERE id = ANY({claimed}) AND publishing_until = {until} ORDER BY id FOR UPDATE
                """).ToListAsync(CancellationToken.None)
            : await db.OutboxMessages.Where(m => claimed.Contains(m.Id) && m.PublishingUntil == until).Select(m => m.Id).ToListAsync(CancellationToken.None))
            .ToHashSet();
        foreach (var row in batch.Where(m => !held.Contains(m.Id)))
        {
            Log.ClaimLost(logger, row.Id, row.EmailId, row.MessageType, until);
        }

        await UpdateHeldAsync(published, set => set.SetProperty(m => m.PublishedAt, now));
        await UpdateHeldAsync(parked, set => set.SetProperty(m => m.AvailableAt, Parked).SetProperty(m => m.PublishingUntil, (DateTime?)null));
        await UpdateHeldAsync(unsent, set => set.SetProperty(m => m.PublishingUntil, (DateTime?)null));
        await UpdateHeldAsync(retryFirst, set => set.SetProperty(m => m.PublishingUntil, now));
        await transaction.CommitAsync(CancellationToken.None);

        async Task UpdateHeldAsync(List<Guid> rows, Action<Microsoft.EntityFrameworkCore.Query.UpdateSettersBuilder<OutboxMessage>> set)
        {
            List<Guid> ids = [.. rows.Where(held.Contains)];
            if (ids.Count > 0)
            {
                // The claim is checked again in the statement itself: on SQLite nothing was locked.
                await db.OutboxMessages.Where(m => ids.Contains(m.Id) && m.PublishingUntil == until).ExecuteUpdateAsync(set, CancellationToken.None);
            }
        }
    }

    /// <summary>
    /// Whether the broker answered about this message alone: returned it (a mandatory send that no queue took, its lane's
    /// queue gone). Anything else may be the broker's as a whole: a lost connection, no confirm in time, or a nack, which
    /// a queue that lost its majority answers to every message.
    /// </summary>
    private static bool RefusedAlone(Exception? error) => error is MessageReturnedException;

    /// <summary>Publishes <paramref name="items"/> concurrently, counting each in its row's outcome.</summary>
    private async Task PublishAllAsync(
        IEnumerable<(OutboxMessage Row, object Message, Type Type)> items, Dictionary<Guid, RowOutcome> outcomes, CancellationToken cancellationToken)
    {
        var tries = items.Select(async item =>
        {
            try
            {
                await PublishAsync(item, cancellationToken);
                return (item.Row.Id, (Exception?)null);
            }
            catch (Exception ex)
            {
                return (item.Row.Id, ex);
            }
        }).ToList();
        foreach (var (id, error) in await Task.WhenAll(tries))
        {
            outcomes[id].Count(error);
        }
    }

    /// <summary>The bus reports that it cannot reach the broker: the outbox waits.</summary>
    private sealed class BrokerUnavailableException(string description, Exception? inner)
        : Exception($"The bus cannot reach the broker: {description}", inner);

    /// <summary>What became of one claimed row's messages.</summary>
    private sealed class RowOutcome(OutboxMessage row, int messages)
    {
        public OutboxMessage Row { get; } = row;

        public int Attempted { get; private set; }

        /// <summary>The first of its messages' failures, if any failed.</summary>
        public Exception? Error { get; private set; }

        /// <summary>Every message of the row confirmed by the broker.</summary>
        public bool Published => Error is null && Attempted == messages;

        public void Count(Exception? error)
        {
            Attempted++;
            Error ??= error;
        }
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
        catch (Exception ex) when (OutboxMessageTypes.IsUnreadable(ex))
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
