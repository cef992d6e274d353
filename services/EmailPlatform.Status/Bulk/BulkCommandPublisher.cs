using System.Diagnostics;
using System.Text.Json;
using EmailPlatform.ServiceDefaults.Messaging;
using EmailPlatform.Status.Recording;
using EmailPlatform.Status.Storage;
using MassTransit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace EmailPlatform.Status.Bulk;

/// <summary>
/// Moves the commands of bulk operations (<see cref="BulkCommandRecord"/>) onto the bus, one row at a time: it
/// publishes the row's commands, waits for the broker's confirms, then deletes the row in the transaction that locked
/// it. A crash or an outage between confirm and commit publishes the row again, which the commands tolerate (each is
/// safe to repeat). On PostgreSQL rows are claimed with <c>FOR UPDATE SKIP LOCKED</c>, so replicas share the work and
/// never publish one row together. While the broker is down the bulk API keeps answering; this loop backs off and
/// catches up afterwards. The commands are published <c>mandatory</c> (<see cref="Mandatory"/>): until the service that
/// acts on them (the delivery workers for retries, the ingress for cancels) has bound its queue, the broker returns them
/// instead of dropping them, and the row waits, as it does while the broker is down. It wakes when signalled, and
/// otherwise every <see cref="BulkOptions.PollInterval"/> (rows another replica left behind). Only rows of a type this
/// version knows are claimed (<see cref="BulkCommands.Known"/>): in a rolling upgrade a row of a newer type waits for a
/// newer replica. A row of a known type that cannot be read is parked, logged, and never blocks the rows behind it.
/// </summary>
internal sealed class BulkCommandPublisher(
    IServiceScopeFactory scopes,
    IBus bus,
    BulkCommandSignal signal,
    IOptions<BulkOptions> options,
    BulkMetrics metrics,
    TimeProvider clock,
    ILogger<BulkCommandPublisher> logger) : BackgroundService
{
    private const int PublishConcurrency = 32;
    private static readonly ActivitySource Source = new(RecordingMetrics.MeterName);

    protected override Task ExecuteAsync(CancellationToken stoppingToken) => signal.RunAsync(
        PublishOnceAsync,
        () => options.Value.PollInterval,
        (ex, backoff) => Log.PublishFailed(logger, ex, backoff),
        clock,
        stoppingToken);

    /// <returns>Whether there was a row (published or parked).</returns>
    internal async Task<bool> PublishOnceAsync(CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<StatusDbContext>();
        // SQLite (the single-process host: one publisher) needs no row lock, and a transaction there takes the write lock
        // of the one database file that the ingress, the workers and the recorder share, for as long as the publish took.
        await using var transaction = db.Database.IsNpgsql() ? await db.Database.BeginTransactionAsync(cancellationToken) : null;
        var row = await ClaimAsync(db, cancellationToken);
        if (row is null)
        {
            return false;
        }

        var read = Read(row);
        if (read is { } commands)
        {
            await PublishAsync(row, commands.Type, commands.Commands, cancellationToken);
            // Confirmed by the broker: from here a stop must not undo the delete, or the row would be published again.
            await db.BulkCommands.Where(r => r.Id == row.Id).ExecuteDeleteAsync(CancellationToken.None);
        }
        else
        {
            var now = clock.GetUtcNow().UtcDateTime;
            await db.BulkCommands.Where(r => r.Id == row.Id).ExecuteUpdateAsync(set => set.SetProperty(r => r.ParkedAt, now), cancellationToken);
        }

        if (transaction is not null)
        {
            await transaction.CommitAsync(CancellationToken.None);
        }

        if (read is { } published)
        {
            metrics.Published(row.MessageType, published.Commands.Length);
            Log.Published(logger, published.Commands.Length, row.MessageType, row.AuditId);
        }

        return true;
    }

    /// <summary>The first unparked row of a type this version knows; a row of another type is left for a replica that knows it.</summary>
    private static async Task<BulkCommandRecord?> ClaimAsync(StatusDbContext db, CancellationToken cancellationToken)
    {
        // At most one row either way; read as a list so that EF Core neither wraps the locking query in another LIMIT
        // nor warns, on every poll, about a First over a query whose order it cannot see.
        string[] known = [.. BulkCommands.Known];
        var unparked = db.Database.IsNpgsql()
            ? db.BulkCommands.FromSql($"""
                SELECT * FROM bulk_commands
                WHERE parked_at IS NULL AND message_type = ANY({known})
                ORDER BY id
                LIMIT 1
                FOR UPDATE SKIP LOCKED
                """)
            : db.BulkCommands.Where(r => r.ParkedAt == null && known.Contains(r.MessageType)).OrderBy(r => r.Id).Take(1);
        return (await unparked.AsNoTracking().ToListAsync(cancellationToken)).SingleOrDefault();
    }

    private (Type Type, object[] Commands)? Read(BulkCommandRecord row)
    {
        try
        {
            return BulkCommands.Read(row);
        }
        catch (Exception ex) when (ex is InvalidOperationException or JsonException or NotSupportedException or ArgumentException)
        {
            Log.Unpublishable(logger, ex, row.Id, row.AuditId, row.MessageType);
            return null;
        }
    }

    private async Task PublishAsync(BulkCommandRecord row, Type type, object[] commands, CancellationToken cancellationToken)
    {
        ActivityContext.TryParse(row.TraceParent, null, out var parent);
        using var activity = Source.StartActivity("bulk publish " + type.Name, ActivityKind.Producer, parent);
        activity?.SetTag("emailplatform.bulk.audit_id", row.AuditId.ToString());
        activity?.SetTag("emailplatform.bulk.commands", commands.Length);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(options.Value.PublishTimeout);
        await Parallel.ForEachAsync(commands, new ParallelOptions { MaxDegreeOfParallelism = PublishConcurrency, CancellationToken = timeout.Token },
            async (command, token) => await bus.Publish(command, type, Mandatory.Publish, token));
    }
}
