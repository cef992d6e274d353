using EmailPlatform.Status.Storage;
using Microsoft.EntityFrameworkCore;

namespace EmailPlatform.Status.Webhooks;

/// <summary>
/// What is left of the subscriptions deleted through the API. <c>DELETE /v1/webhooks/{id}</c> only marks one deleted
/// (and disabled, so that the dispatcher's claim and the recorder pass it over as they pass over a disabled one) and
/// answers at once; its deliveries and their attempts are deleted here, by the dispatcher's housekeeping, a bounded
/// number of rows per statement and of statements per pass, and the row itself last. The delete used to remove the row
/// and let <c>ON DELETE CASCADE</c> take up to 90 days of deliveries with it in one statement: for a busy subscription
/// that outlived the command timeout every time (a 503 that no retry got past), and while it ran it held the row's
/// lock, which every insert of a delivery for that subscription waits on for its foreign key check, so event recording
/// stalled behind it.
/// </summary>
/// <remarks>
/// The row is removed only once none of its deliveries is left and <see cref="RemoveAfter"/> has passed since the
/// delete: a recorder batch that read the subscriptions before it may still be adding a delivery for it (on PostgreSQL
/// the delete waits for such batches before it answers; the margin covers SQLite and a wait cut short). That delivery is
/// never sent (the subscription is disabled) and is purged with the rest; with the row already gone, its insert would
/// have failed the recorder's whole batch. Replicas purge side by side: on PostgreSQL each statement
/// takes only rows no other holds (<c>FOR UPDATE SKIP LOCKED</c>), so two housekeeping passes share the work instead of
/// waiting on each other; SQLite has one writer.
/// </remarks>
internal static class DeletedSubscriptions
{
    /// <summary>How long after its delete a subscription's row may go, once its deliveries have: a recorder batch is committed well within it.</summary>
    public static readonly TimeSpan RemoveAfter = TimeSpan.FromMinutes(1);

    /// <summary>
    /// Deletes the deliveries of deleted subscriptions, oldest deleted first, <paramref name="batchSize"/> per statement
    /// and at most <paramref name="maxBatches"/> statements, and removes each subscription deleted before
    /// <paramref name="removeDeletedBefore"/> that has none left. What is left over is the next pass's.
    /// </summary>
    public static async Task<DeletedSubscriptionsPurge> PurgeAsync(
        StatusDbContext db, DateTime removeDeletedBefore, int batchSize, int maxBatches, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batchSize);
        var deleted = await db.WebhookSubscriptions.AsNoTracking().Where(s => s.DeletedAt != null)
            .OrderBy(s => s.DeletedAt).ThenBy(s => s.Id).Select(s => new { s.Id, DeletedAt = s.DeletedAt!.Value })
            .ToListAsync(cancellationToken);
        var deliveries = 0;
        var batches = 0;
        var removed = new List<Guid>();
        foreach (var subscription in deleted)
        {
            int rows;
            do
            {
                if (batches == maxBatches)
                {
                    return new DeletedSubscriptionsPurge(deliveries, removed);
                }

                rows = await DeleteBatchAsync(db, subscription.Id, batchSize, cancellationToken);
                batches++;
                deliveries += rows;
            }
            while (rows == batchSize);

            // Fewer than a batch: none left, or the rest held by another replica's statement, in which case they are
            // still there, and the row stays for a later pass.
            if (subscription.DeletedAt <= removeDeletedBefore && await db.WebhookSubscriptions
                .Where(s => s.Id == subscription.Id && s.DeletedAt != null && !db.WebhookDeliveries.Any(d => d.SubscriptionId == subscription.Id))
                .ExecuteDeleteAsync(cancellationToken) > 0)
            {
                removed.Add(subscription.Id);
            }
        }

        return new DeletedSubscriptionsPurge(deliveries, removed);
    }

    /// <summary>One statement: up to <paramref name="batchSize"/> of the subscription's deliveries, oldest first, their attempts with them.</summary>
    private static Task<int> DeleteBatchAsync(StatusDbContext db, Guid subscriptionId, int batchSize, CancellationToken cancellationToken) =>
        db.Database.IsNpgsql()
            ? db.Database.ExecuteSqlAsync($"""
                DELETE FROM webhook_deliveries WHERE id IN (
                    SELECT id FROM webhook_deliveries WHERE subscription_id = {subscriptionId}
                    ORDER BY created_at
                    LIMIT {batchSize}
                    FOR UPDATE SKIP LOCKED)
                """, cancellationToken)
            : db.WebhookDeliveries.Where(d => d.SubscriptionId == subscriptionId).OrderBy(d => d.CreatedAt).Take(batchSize)
                .ExecuteDeleteAsync(cancellationToken);
}

/// <summary>What one pass purged: deliveries deleted, and the subscriptions whose row went (all their deliveries gone).</summary>
internal sealed record DeletedSubscriptionsPurge(int Deliveries, IReadOnlyList<Guid> Removed);
