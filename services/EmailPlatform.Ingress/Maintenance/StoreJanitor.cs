using EmailPlatform.Ingress.Idempotency;
using EmailPlatform.Ingress.Outbox;
using EmailPlatform.Ingress.Storage;
using EmailPlatform.ServiceDefaults.Storage;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace EmailPlatform.Ingress.Maintenance;

/// <summary>
/// Keeps the ingress store small: deletes outbox messages published longer ago than
/// <c>Ingress:Outbox:Retention</c> (their payloads hold bodies and attachments), stored content past its time
/// (<c>Ingress:StoredContentRetention</c>) and expired idempotency records.
/// Runs every few minutes on every replica; the deletes are idempotent. Each statement deletes at most
/// <see cref="BatchSize"/> rows, oldest first, found through an index (<see cref="BatchedDeletes"/>).
/// </summary>
internal sealed partial class StoreJanitor(
    IServiceScopeFactory scopes, IOptions<OutboxOptions> outbox, TimeProvider clock, ILogger<StoreJanitor> logger) : BackgroundService
{
    private static readonly TimeSpan Interval = TimeSpan.FromMinutes(5);

    /// <summary>Rows removed per statement.</summary>
    internal int BatchSize { get; set; } = BatchedDeletes.DefaultBatchSize;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Interval, clock);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                try
                {
                    await SweepAsync(stoppingToken);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    SweepFailed(logger, ex);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping.
        }
    }

    internal async Task<(int Outbox, int Contents, int Idempotency)> SweepAsync(CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<IngressDbContext>();
        var now = clock.GetUtcNow().UtcDateTime;
        var publishedBefore = now - outbox.Value.Retention;
        var messages = await db.OutboxMessages.Where(m => m.PublishedAt != null && m.PublishedAt < publishedBefore).OrderBy(m => m.PublishedAt)
            .ExecuteDeleteInBatchesAsync(BatchSize, cancellationToken);
        // Attachments go with their content (ON DELETE CASCADE).
        var contents = await db.EmailContents.Where(c => c.KeepUntil <= now).OrderBy(c => c.KeepUntil).ExecuteDeleteInBatchesAsync(BatchSize, cancellationToken);
        var records = await db.IdempotencyRecords.Where(r => r.ExpiresAt <= now).OrderBy(r => r.ExpiresAt).ExecuteDeleteInBatchesAsync(BatchSize, cancellationToken);
        return (messages, contents, records);
    }

    [LoggerMessage(EventId = 1300, Level = LogLevel.Warning, Message = "Cleaning the ingress store failed; trying again later")]
    private static partial void SweepFailed(ILogger logger, Exception exception);
}
