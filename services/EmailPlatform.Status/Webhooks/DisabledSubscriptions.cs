using EmailPlatform.ServiceDefaults.Storage;
using EmailPlatform.Status.Storage;
using Microsoft.EntityFrameworkCore;

namespace EmailPlatform.Status.Webhooks;

/// <summary>
/// What happens to the deliveries of a subscription that is disabled (through the API or automatically): the pending
/// ones are marked <see cref="WebhookDeliveryStatus.Skipped"/> instead of being held, so a subscription re-enabled days
/// later does not receive a flood of stale events; they stay in its delivery log, and replaying their time range sends
/// them again.
/// </summary>
/// <remarks>
/// A subscription disabled after days of failure can have millions of deliveries pending, so they are marked a batch at
/// a time, each statement short, committed on its own and reading only that subscription's pending deliveries through
/// the index on (subscription_id, status, created_at, id): the first batch right after the disable (for most
/// subscriptions all there is), the rest by the dispatcher's sweep every <see cref="WebhookMetrics.PendingRefresh"/>, a
/// bounded number of batches per pass, which also catches a delivery that a recorder batch which read the subscription
/// before the disable adds after the first batch (the disable waits for such batches on PostgreSQL, not on SQLite, and
/// not when that wait is cut short). One statement over all of them outlived the
/// command timeout, rolled back, and was tried again at every pass, for ever. A delivery waiting for its turn is not
/// sent: the dispatcher claims only deliveries of enabled subscriptions, and a re-enable is refused while any is left
/// (<see cref="WebhooksEndpoints"/>). On PostgreSQL each statement takes only rows no other holds (<c>SKIP LOCKED</c>),
/// so replicas sweeping at once share the work.
/// </remarks>
internal static class DisabledSubscriptions
{
    public const string Reason = "Not sent: the subscription was disabled.";

    /// <summary>The first batch, right after the dispatcher disabled the subscription; the sweep does the rest.</summary>
    public static Task<int> SkipPendingAsync(StatusDbContext db, Guid subscriptionId, CancellationToken cancellationToken) =>
        SkipPendingAsync(db, subscriptionId, BatchedDeletes.DefaultBatchSize, cancellationToken);

    /// <summary>
    /// One statement: up to <paramref name="batchSize"/> of the subscription's pending deliveries, oldest first, if it is
    /// still disabled when the statement runs. The sweep lists the disabled subscriptions before it marks them, and one
    /// may be re-enabled in between (by another replica's sweep and then the operator): the deliveries its new events
    /// add from then on are its own to send.
    /// </summary>
    /// <returns>How many were marked.</returns>
    public static Task<int> SkipPendingAsync(StatusDbContext db, Guid subscriptionId, int batchSize, CancellationToken cancellationToken) =>
        db.Database.IsNpgsql()
            ? db.Database.ExecuteSqlAsync($"""
                UPDATE webhook_deliveries
                SET status = 'skipped', next_attempt_at = NULL, locked_until = NULL, last_error = {Reason}
                WHERE id IN (
                    SELECT id FROM webhook_deliveries
                    WHERE subscription_id = {subscriptionId} AND status = 'pending'
                        AND EXISTS (SELECT 1 FROM webhook_subscriptions WHERE id = {subscriptionId} AND NOT enabled)
                    ORDER BY created_at, id
                    LIMIT {batchSize}
                    FOR UPDATE SKIP LOCKED)
                """, cancellationToken)
            : db.WebhookDeliveries.Where(d => d.SubscriptionId == subscriptionId && d.Status == WebhookDeliveryStatus.Pending
                    && db.WebhookSubscriptions.Any(s => s.Id == subscriptionId && !s.Enabled))
                .OrderBy(d => d.CreatedAt).ThenBy(d => d.Id).Take(batchSize)
                .ExecuteUpdateAsync(s => s
                    .SetProperty(d => d.Status, WebhookDeliveryStatus.Skipped)
                    .SetProperty(d => d.NextAttemptAt, (DateTime?)null)
                    .SetProperty(d => d.LockedUntil, (DateTime?)null)
                    .SetProperty(d => d.LastError, Reason), cancellationToken);

    /// <summary>Whether the subscription still has a delivery waiting to be sent or, while it is disabled, to be marked.</summary>
    public static Task<bool> HasPendingAsync(StatusDbContext db, Guid subscriptionId, CancellationToken cancellationToken) =>
        db.WebhookDeliveries.AnyAsync(d => d.SubscriptionId == subscriptionId && d.Status == WebhookDeliveryStatus.Pending, cancellationToken);

    /// <summary>
    /// The sweep: the pending deliveries of every disabled subscription (a deleted one's are purged instead:
    /// <see cref="DeletedSubscriptions"/>), <paramref name="batchSize"/> per statement and at most
    /// <paramref name="maxBatches"/> statements; what is left is the next pass's.
    /// </summary>
    /// <returns>How many were marked.</returns>
    public static async Task<int> SkipAllPendingAsync(StatusDbContext db, int batchSize, int maxBatches, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batchSize);
        // A few rows (subscriptions), each with one look into the index for a pending delivery.
        var disabled = await db.WebhookSubscriptions.AsNoTracking()
            .Where(s => !s.Enabled && s.DeletedAt == null
                && db.WebhookDeliveries.Any(d => d.SubscriptionId == s.Id && d.Status == WebhookDeliveryStatus.Pending))
            .OrderBy(s => s.Id).Select(s => s.Id)
            .ToListAsync(cancellationToken);
        var skipped = 0;
        var batches = 0;
        foreach (var subscriptionId in disabled)
        {
            int rows;
            do
            {
                if (batches == maxBatches)
                {
                    return skipped;
                }

                rows = await SkipPendingAsync(db, subscriptionId, batchSize, cancellationToken);
                batches++;
                skipped += rows;
            }
            while (rows == batchSize);
        }

        return skipped;
    }
}
