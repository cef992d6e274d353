using EmailPlatform.Status.Storage;
using Microsoft.EntityFrameworkCore;

namespace EmailPlatform.Status.Webhooks;

/// <summary>
/// Which due deliveries a dispatcher sends next, each leased until <c>lease</c> so that no other dispatcher sends it
/// meanwhile. The claim is fair between subscriptions rather than first in, first out over all of them: a subscription
/// gets at most <c>perSubscription</c> deliveries in flight on this dispatcher (counting those it already has, given in
/// <c>inFlight</c>), and the claim takes every subscription's next delivery before any subscription's one after it, the
/// oldest first within each turn. One endpoint that answers slowly or not at all, with a backlog of thousands, therefore
/// holds a few request slots and never the whole dispatcher, and another subscription's delivery is claimed as soon as a
/// slot is free instead of after the backlog.
/// </summary>
/// <remarks>
/// The cap is per dispatcher: with several replicas a subscription can have that many in flight on each. Counting the
/// leases every replica holds would mean reading them all on every claim, and their rows are not in the order of any index.
/// </remarks>
internal static class WebhookClaims
{
    public static Task<List<Guid>> ClaimAsync(
        StatusDbContext db, DateTime now, DateTime lease, int limit, int perSubscription, IReadOnlyDictionary<Guid, int> inFlight,
        CancellationToken cancellationToken) =>
        db.Database.IsNpgsql()
            ? ClaimPostgresAsync(db, now, lease, limit, perSubscription, inFlight, cancellationToken)
            : ClaimSqliteAsync(db, now, lease, limit, perSubscription, inFlight, cancellationToken);

    /// <summary>
    /// One statement. The candidates are ranked in a subquery: <c>row_number()</c> over each subscription's due deliveries,
    /// oldest first, then offset by what the subscription has in flight here. A disabled subscription's deliveries are
    /// ranked too (in a partition of their own, they take no one's turn) and dropped with the few candidates left after
    /// the ranking, rather than by joining the subscriptions to every due delivery. The level above locks the chosen ones
    /// with <c>FOR UPDATE SKIP LOCKED</c>, which PostgreSQL does not allow at the level of a window function. A candidate
    /// that another replica is claiming at that moment is skipped, not replaced: this claim takes fewer, never more than a
    /// subscription's room. One that another replica leased after this statement's snapshot was taken is not locked, but
    /// its newer version is checked against the locking level's conditions, which is why they repeat the due and lease
    /// conditions.
    /// </summary>
    /// <remarks>
    /// The due deliveries come from the pending deliveries' partial index <c>(status, next_attempt_at)</c>, so the finished
    /// ones (nearly all of the table) are never read. But the ranking reads and sorts every due delivery, where the
    /// first-in-first-out claim read only as many as it took: a few hundred rows normally, about 20 to 40 ms either way at
    /// 3.5 million rows with a thousand due; an endpoint that has failed for a day at 20 events a second leaves well over
    /// a million due, and then each claim takes seconds. An index on <c>(subscription_id, next_attempt_at) WHERE status =
    /// 'pending'</c> would let the claim probe each enabled subscription for its room alone (a <c>LATERAL</c> subquery,
    /// about 3 ms with 500,000 due), whatever the backlog; without that index such a probe reads the due deliveries once per
    /// subscription, which is slower than this even with none failing.
    /// </remarks>
    private static async Task<List<Guid>> ClaimPostgresAsync(
        StatusDbContext db, DateTime now, DateTime lease, int limit, int perSubscription, IReadOnlyDictionary<Guid, int> inFlight,
        CancellationToken cancellationToken)
    {
        var busy = inFlight.Keys.ToArray();
        var busyCounts = busy.Select(id => inFlight[id]).ToArray();
        return await db.Database.SqlQuery<Guid>($"""
            UPDATE webhook_deliveries SET locked_until = {lease}
            WHERE id IN (
                SELECT d.id FROM webhook_deliveries d
                WHERE d.id IN (
                    SELECT c.id FROM (
                        SELECT due.id, due.subscription_id, due.next_attempt_at,
                               row_number() OVER (PARTITION BY due.subscription_id ORDER BY due.next_attempt_at) AS rn
                        FROM webhook_deliveries due
                        WHERE due.status = 'pending' AND due.next_attempt_at <= {now}
                          AND (due.locked_until IS NULL OR due.locked_until < {now})) c
                    LEFT JOIN unnest({busy}, {busyCounts}) AS f(subscription_id, in_flight) ON f.subscription_id = c.subscription_id
                    WHERE c.rn <= {perSubscription} AND c.rn + coalesce(f.in_flight, 0) <= {perSubscription}
                      AND (SELECT s.enabled FROM webhook_subscriptions s WHERE s.id = c.subscription_id)
                    ORDER BY c.rn + coalesce(f.in_flight, 0), c.next_attempt_at
                    LIMIT {limit})
                  AND d.status = 'pending' AND d.next_attempt_at <= {now} AND (d.locked_until IS NULL OR d.locked_until < {now})
                FOR UPDATE OF d SKIP LOCKED)
            RETURNING id AS "Value"
            """).ToListAsync(cancellationToken);
    }

    /// <summary>
    /// SQLite (the single-process standalone host): the same turns, counted while reading the due deliveries oldest first
    /// (keeping only those within a subscription's room), and one writer at a time, so a conditional update is a claim.
    /// Its dispatcher is the only one, so its in-flight count is the whole.
    /// </summary>
    private static async Task<List<Guid>> ClaimSqliteAsync(
        StatusDbContext db, DateTime now, DateTime lease, int limit, int perSubscription, IReadOnlyDictionary<Guid, int> inFlight,
        CancellationToken cancellationToken)
    {
        var due = db.WebhookDeliveries
            .Where(d => d.Status == WebhookDeliveryStatus.Pending && d.NextAttemptAt <= now && (d.LockedUntil == null || d.LockedUntil < now))
            .Where(d => db.WebhookSubscriptions.Any(s => s.Id == d.SubscriptionId && s.Enabled))
            .OrderBy(d => d.NextAttemptAt)
            .Select(d => new { d.Id, d.SubscriptionId, d.NextAttemptAt })
            .AsAsyncEnumerable();
        var turns = new Dictionary<Guid, int>(inFlight);
        var candidates = new List<(Guid Id, DateTime Due, int Turn)>();
        await foreach (var delivery in due.WithCancellation(cancellationToken))
        {
            var turn = turns[delivery.SubscriptionId] = turns.GetValueOrDefault(delivery.SubscriptionId) + 1;
            if (turn <= perSubscription)
            {
                candidates.Add((delivery.Id, delivery.NextAttemptAt!.Value, turn));
            }
        }

        var claimed = new List<Guid>();
        foreach (var (id, _, _) in candidates.OrderBy(c => c.Turn).ThenBy(c => c.Due).Take(limit))
        {
            var rows = await db.WebhookDeliveries.Where(d => d.Id == id && (d.LockedUntil == null || d.LockedUntil < now))
                .ExecuteUpdateAsync(s => s.SetProperty(d => d.LockedUntil, lease), cancellationToken);
            if (rows == 1)
            {
                claimed.Add(id);
            }
        }

        return claimed;
    }
}
