using EmailPlatform.ServiceDefaults.Hosting;
using EmailPlatform.Status.Storage;
using EmailPlatform.Status.Webhooks;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace EmailPlatform.Status.Retention;

/// <summary>
/// Removes what the retention settings say is too old, in short batches. An email's retention runs from when it was due
/// (<c>scheduled_at</c>, or its acceptance when it was not scheduled), so that one scheduled months ahead keeps its
/// bodies and timeline until it has been sent.
/// </summary>
public sealed class RetentionPurger(StatusDbContext db, IOptions<RetentionOptions> options, TimeProvider clock)
{
    private static readonly string PostgresBodiesSelection = BodiesSelection(postgres: true, scheduled: false);
    private static readonly string SqliteBodiesSelection = BodiesSelection(postgres: false, scheduled: false);
    private static readonly string PostgresScheduledBodiesSelection = BodiesSelection(postgres: true, scheduled: true);
    private static readonly string SqliteScheduledBodiesSelection = BodiesSelection(postgres: false, scheduled: true);

    public async Task<RetentionResult> PurgeAsync(CancellationToken cancellationToken)
    {
        var settings = options.Value;
        var now = clock.GetUtcNow().UtcDateTime;
        var bodiesBefore = now - settings.BodiesAfter;
        var eventsBefore = now - settings.EventsAfter;
        var batch = settings.BatchSize;

        var postgres = db.Database.IsNpgsql();
        var bodies = await PurgeBodiesAsync(postgres ? PostgresBodiesSelection : SqliteBodiesSelection, bodiesBefore, batch, cancellationToken)
            + await PurgeBodiesAsync(postgres ? PostgresScheduledBodiesSelection : SqliteScheduledBodiesSelection, bodiesBefore, batch, cancellationToken);

        // Oldest first, going on after the last one deleted: the events an email scheduled ahead keeps are read once a
        // run, not again by every batch.
        (DateTime At, Guid Id)? last = null;
        var events = await RepeatAsync(async () =>
        {
            var old = db.Events.Where(e => e.OccurredAt < eventsBefore && !db.Emails.Any(m => m.Id == e.EmailId && m.ScheduledAt >= eventsBefore));
            if (last is { } after)
            {
                old = old.Where(e => e.OccurredAt >= after.At && (e.OccurredAt > after.At || e.Id.CompareTo(after.Id) > 0));
            }

            var page = await old.OrderBy(e => e.OccurredAt).ThenBy(e => e.Id).Select(e => new { e.OccurredAt, e.Id }).Take(batch).ToListAsync(cancellationToken);
            if (page.Count == 0)
            {
                return 0;
            }

            last = (page[^1].OccurredAt, page[^1].Id);
            var ids = page.Select(e => e.Id).ToList();
            return await db.Events.Where(e => ids.Contains(e.Id)).ExecuteDeleteAsync(cancellationToken);
        }, batch);

        var deliveries = await RepeatAsync(async () =>
        {
            var ids = await db.WebhookDeliveries
                .Where(d => d.CreatedAt < eventsBefore && d.Status != WebhookDeliveryStatus.Pending)
                .OrderBy(d => d.CreatedAt).Select(d => d.Id).Take(batch).ToListAsync(cancellationToken);
            return ids.Count == 0 ? 0 : await db.WebhookDeliveries.Where(d => ids.Contains(d.Id)).ExecuteDeleteAsync(cancellationToken);
        }, batch);

        // Rows of bulk commands that could never be published, parked for an operator, name recipients: kept as long as events.
        var parked = await db.BulkCommands.Where(c => c.ParkedAt != null && c.ParkedAt < eventsBefore).ExecuteDeleteAsync(cancellationToken);

        return new RetentionResult(bodies, events, deliveries, parked);
    }

    /// <summary>Clears the bodies of the emails a selection returns, a batch at a time.</summary>
    private Task<int> PurgeBodiesAsync(string selection, DateTime before, int batch, CancellationToken cancellationToken) => RepeatAsync(async () =>
    {
        // In SQL, so that the filter is the one of the partial index that answers it (StatusDbContext.WithContentSql).
        var ids = await db.Database.SqlQueryRaw<Guid>(selection, before, batch).ToListAsync(cancellationToken);
        return ids.Count == 0 ? 0 : await db.Emails.Where(e => ids.Contains(e.Id)).ExecuteUpdateAsync(s => s
            .SetProperty(e => e.Html, (string?)null)
            .SetProperty(e => e.Text, (string?)null)
            .SetProperty(e => e.AttachmentNames, new List<string>()), cancellationToken);
    }, batch);

    /// <summary>The emails due before {0} (accepted then, or scheduled for then) that still have content, oldest first, at most {1} of them.</summary>
    private static string BodiesSelection(bool postgres, bool scheduled)
    {
        var due = scheduled ? "scheduled_at" : "accepted_at";
        return $$"""SELECT id AS "Value" FROM emails WHERE ({{StatusDbContext.WithContentSql(postgres, scheduled)}}) AND {{due}} < {0} ORDER BY {{due}}, id LIMIT {1}""";
    }

    private static async Task<int> RepeatAsync(Func<Task<int>> step, int batch)
    {
        var total = 0;
        int done;
        do
        {
            done = await step();
            total += done;
        }
        while (done >= batch);
        return total;
    }
}

public sealed record RetentionResult(int Bodies, int Events, int WebhookDeliveries, int ParkedBulkCommands);

/// <summary>Runs <see cref="RetentionPurger"/> every <see cref="RetentionOptions.Interval"/>.</summary>
public sealed class RetentionService(IServiceScopeFactory scopes, IOptions<RetentionOptions> options, ILogger<RetentionService> logger) : BackgroundService
{
    protected override Task ExecuteAsync(CancellationToken stoppingToken) => PeriodicWork.RunAsync(
        async ct =>
        {
            await using var scope = scopes.CreateAsyncScope();
            var result = await scope.ServiceProvider.GetRequiredService<RetentionPurger>().PurgeAsync(ct);
            if (result.Bodies + result.Events + result.WebhookDeliveries + result.ParkedBulkCommands > 0)
            {
                Log.Purged(logger, result.Bodies, result.Events, result.WebhookDeliveries, result.ParkedBulkCommands);
            }
        },
        () => options.Value.Interval,
        ex => Log.PurgeFailed(logger, ex),
        TimeProvider.System,
        stoppingToken);
}

internal static partial class Log
{
    [LoggerMessage(EventId = 3201, Level = LogLevel.Information,
        Message = "Retention purge: bodies of {Bodies} emails, {Events} events, {Deliveries} webhook deliveries, {ParkedBulkCommands} parked bulk command rows")]
    public static partial void Purged(ILogger logger, int bodies, int events, int deliveries, int parkedBulkCommands);

    [LoggerMessage(EventId = 3202, Level = LogLevel.Error, Message = "Retention purge failed; it runs again at the next interval")]
    public static partial void PurgeFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 3203, Level = LogLevel.Information, Message = "Recipient erased from {Emails} emails (audit {AuditId})")]
    public static partial void Erased(ILogger logger, int emails, Guid auditId);
}
