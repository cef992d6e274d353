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
    /// One statement. For each enabled subscription a <c>LATERAL</c> subquery takes its oldest due deliveries, as many as
    /// it has room for on this dispatcher (the cap less what it has in flight here), through the index on
    /// <c>(subscription_id, next_attempt_at) WHERE status = 'pending'</c>; the candidates are ordered by turn (every
    /// subscription's next delivery before any subscription's one after it), then by age. Each probe reads a few index
    /// entries however large its subscription's backlog (an endpoint failing for a day at 20 events a second leaves over
    /// a million due: a claim that ranked all of them took seconds, this one a few milliseconds), and disabled
    /// subscriptions are not probed at all. The level above locks the chosen ones with <c>FOR UPDATE SKIP LOCKED</c>.
    /// A candidate another replica is claiming at that moment is skipped, not replaced: this claim takes fewer, never
    /// more than a subscription's room. One that another replica leased after this statement's snapshot was taken is not
    /// locked, but its newer version is checked against the locking level's conditions, which is why they repeat the due
    /// and lease conditions.
    /// </summary>
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
                    SELECT c.id
                    FROM webhook_subscriptions s
                    LEFT JOIN unnest({busy}, {busyCounts}) AS f(subscription_id, in_flight) ON f.subscription_id = s.id
                    CROSS JOIN LATERAL (
                        SELECT due.id, due.next_attempt_at, row_number() OVER (ORDER BY due.next_attempt_at) AS rn
                        FROM webhook_deliveries due
                        WHERE due.subscription_id = s.id AND due.status = 'pending' AND due.next_attempt_at <= {now}
                          AND (due.locked_until IS NULL OR due.locked_until < {now})
                        ORDER BY due.next_attempt_at
                        LIMIT greatest({perSubscription} - coalesce(f.in_flight, 0), 0)) c
                    WHERE s.enabled
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
