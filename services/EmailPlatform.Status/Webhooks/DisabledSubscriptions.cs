using EmailPlatform.Status.Storage;
using Microsoft.EntityFrameworkCore;

namespace EmailPlatform.Status.Webhooks;

/// <summary>
/// What happens to the deliveries of a subscription that is disabled (through the API or automatically): the pending
/// ones are marked <see cref="WebhookDeliveryStatus.Skipped"/> at once instead of being held, so a subscription
/// re-enabled days later does not receive a flood of stale events; they stay in its delivery log, and replaying their
/// time range sends them again. Deliveries that another replica's outbox adds in the moments after the disable (its
/// subscription cache is a few seconds old) are swept by the dispatcher every <see cref="WebhookMetrics.PendingRefresh"/>.
/// </summary>
internal static class DisabledSubscriptions
{
    public const string Reason = "Not sent: the subscription was disabled.";

    public static Task<int> SkipPendingAsync(StatusDbContext db, Guid subscriptionId, CancellationToken cancellationToken) =>
        Skip(db.WebhookDeliveries.Where(d => d.Status == WebhookDeliveryStatus.Pending && d.SubscriptionId == subscriptionId), cancellationToken);

    /// <summary>The sweep: pending deliveries of every disabled subscription (a deleted one's are purged instead: <see cref="DeletedSubscriptions"/>).</summary>
    public static Task<int> SkipAllPendingAsync(StatusDbContext db, CancellationToken cancellationToken) =>
        Skip(db.WebhookDeliveries.Where(d => d.Status == WebhookDeliveryStatus.Pending
            && db.WebhookSubscriptions.Any(s => s.Id == d.SubscriptionId && !s.Enabled && s.DeletedAt == null)), cancellationToken);

    private static Task<int> Skip(IQueryable<WebhookDeliveryRecord> deliveries, CancellationToken cancellationToken) =>
        deliveries.ExecuteUpdateAsync(s => s
            .SetProperty(d => d.Status, WebhookDeliveryStatus.Skipped)
            .SetProperty(d => d.NextAttemptAt, (DateTime?)null)
            .SetProperty(d => d.LockedUntil, (DateTime?)null)
            .SetProperty(d => d.LastError, Reason), cancellationToken);
}
