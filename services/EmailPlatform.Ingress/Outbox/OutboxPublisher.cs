using EmailPlatform.Ingress.Storage;
using System.Diagnostics;
using MassTransit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace EmailPlatform.Ingress.Outbox;

/// <summary>
/// Moves due outbox messages onto the bus, waits for the broker's confirms, then marks them published in the
/// same transaction that locked them. A crash between confirm and commit publishes them again, which every
/// consumer tolerates (at-least-once, idempotent). Events go out before commands, so the status service hears
/// of an email before any worker can report on it. With PostgreSQL, rows are claimed with
/// <c>FOR UPDATE SKIP LOCKED</c>: several ingress replicas never publish the same message together, and a
/// cancel waits for a batch in flight. While the broker is down the ingress keeps accepting; this loop backs
/// off and catches up afterwards. It wakes when signalled, and otherwise every poll interval, which is also
/// how scheduled emails leave on time.
/// </summary>
internal sealed class OutboxPublisher(
    IServiceScopeFactory scopes,
    IBus bus,
    OutboxSignal signal,
    IOptions<OutboxOptions> options,
    TimeProvider clock,
    ILogger<OutboxPublisher> logger) : BackgroundService
{
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(30);
    private readonly OutboxOptions _options = options.Value;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var backoff = TimeSpan.Zero;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var published = await PublishBatchAsync(stoppingToken);
                backoff = TimeSpan.Zero;
                if (published == _options.BatchSize)
                {
                    continue;
                }

                await signal.WaitAsync(_options.PollInterval, stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                backoff = backoff == TimeSpan.Zero ? TimeSpan.FromMilliseconds(250) : TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, MaxBackoff.Ticks));
                Log.PublishFailed(logger, ex, backoff);
                await Task.Delay(backoff, clock, stoppingToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
        }
    }

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

        using (var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
        {
            timeout.CancelAfter(_options.PublishTimeout);
            await Task.WhenAll(batch.Where(m => !OutboxMessageTypes.IsCommand(m.MessageType)).Select(m => PublishAsync(m, timeout.Token)));
            await Task.WhenAll(batch.Where(m => OutboxMessageTypes.IsCommand(m.MessageType)).Select(m => PublishAsync(m, timeout.Token)));
        }

        foreach (var message in batch)
        {
            message.PublishedAt = now;
        }

        await db.SaveChangesAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        OutboxTelemetry.Published.Add(batch.Count);
        OutboxTelemetry.RecordLag(now - batch.Min(m => m.AvailableAt));
        Log.Published(logger, batch.Count);
        return batch.Count;
    }

    private Task<List<OutboxMessage>> ClaimDueAsync(IngressDbContext db, DateTime now, CancellationToken cancellationToken)
    {
        var size = _options.BatchSize;
        var due = db.Database.IsNpgsql()
            ? db.OutboxMessages.FromSql($"""
                SELECT * FROM outbox_messages
                WHERE published_at IS NULL AND available_at <= {now}
                ORDER BY available_at, id
                LIMIT {size}
                FOR UPDATE SKIP LOCKED
                """)
            : db.OutboxMessages.Where(m => m.PublishedAt == null && m.AvailableAt <= now).OrderBy(m => m.AvailableAt).ThenBy(m => m.Id).Take(size);
        return due.ToListAsync(cancellationToken);
    }

    private async Task PublishAsync(OutboxMessage row, CancellationToken cancellationToken)
    {
        var (message, type) = OutboxMessageTypes.Read(row);
        ActivityContext.TryParse(row.TraceParent, null, out var parent);
        using var activity = OutboxTelemetry.Source.StartActivity("outbox publish " + row.MessageType, ActivityKind.Producer, parent);
        activity?.SetTag("email.id", row.EmailId);
        await bus.Publish(message, type, cancellationToken);
    }
}
