using System.Collections.Concurrent;
using EmailPlatform.Status.Storage;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace EmailPlatform.Status.Webhooks;

/// <summary>
/// Sends due webhook deliveries. Each round claims a batch with a lease (<see cref="WebhookClaims"/>: <c>FOR UPDATE SKIP
/// LOCKED</c> on PostgreSQL, so replicas share the work, and a few of each subscription's at most), sends them in
/// parallel, and records each attempt; a failed attempt is retried after the next step of
/// <see cref="WebhookOptions.Schedule"/>, and a subscription whose attempts keep failing is disabled.
/// A crash mid-round leaves leases that expire, so deliveries are sent at least once; a stop mid-round cancels the
/// requests in flight but still records the attempts that had finished, and hands the rest back (their lease cleared)
/// for another replica to send at once. Housekeeping runs beside the sending, so that its failing or taking long never
/// holds the deliveries up.
/// </summary>
public sealed class WebhookDispatcher(
    IServiceScopeFactory scopes,
    WebhookSender sender,
    WebhookSubscriptionCache subscriptionCache,
    IOptions<WebhookOptions> options,
    WebhookMetrics metrics,
    TimeProvider clock,
    ILogger<WebhookDispatcher> logger) : BackgroundService
{
    private static readonly Dictionary<Guid, int> NothingInFlight = [];

    /// <summary>The longest wait before housekeeping is tried again after failing again and again.</summary>
    private static readonly TimeSpan MaxHousekeepingBackOff = TimeSpan.FromMinutes(5);

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.WhenAll(HousekeepContinuouslyAsync(stoppingToken), DispatchContinuouslyAsync(stoppingToken));

    /// <summary>
    /// Every <see cref="WebhookMetrics.PendingRefresh"/>, beside the sending and failing on its own: a failure (a statement
    /// timing out on a large table, the store away) is logged, and each further one in a row doubles the wait before the
    /// next try, up to <see cref="MaxHousekeepingBackOff"/>.
    /// </summary>
    private async Task HousekeepContinuouslyAsync(CancellationToken stoppingToken)
    {
        var failures = 0;
        while (!stoppingToken.IsCancellationRequested)
        {
            var wait = WebhookMetrics.PendingRefresh;
            try
            {
                await HousekeepAsync(stoppingToken);
                failures = 0;
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                failures++;
                var backOff = WebhookMetrics.PendingRefresh * Math.Pow(2, Math.Min(failures - 1, 10));
                wait = backOff < MaxHousekeepingBackOff ? backOff : MaxHousekeepingBackOff;
                Log.HousekeepingFailed(logger, ex, wait);
            }
            catch (Exception)
            {
                // Stopping: the statement was cancelled with it.
                return;
            }

            try
            {
                await Task.Delay(wait, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private async Task DispatchContinuouslyAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            var sent = 0;
            try
            {
                sent = await DispatchOnceAsync(stoppingToken);
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                Log.DispatchFailed(logger, ex);
            }

            if (sent < options.Value.BatchSize)
            {
                try
                {
                    await Task.Delay(options.Value.PollInterval, stoppingToken);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    /// <summary>Every <see cref="WebhookMetrics.PendingRefresh"/>: skips what disabled subscriptions still have pending, and counts what is due.</summary>
    public async Task HousekeepAsync(CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<StatusDbContext>();
        await DisabledSubscriptions.SkipAllPendingAsync(db, cancellationToken);
        var now = clock.GetUtcNow().UtcDateTime;
        metrics.SetPending(await db.WebhookDeliveries.CountAsync(d => d.Status == WebhookDeliveryStatus.Pending && d.NextAttemptAt <= now, cancellationToken));
    }

    /// <returns>How many deliveries were attempted.</returns>
    public async Task<int> DispatchOnceAsync(CancellationToken cancellationToken)
    {
        var settings = options.Value;
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<StatusDbContext>();
        var now = clock.GetUtcNow().UtcDateTime;
        // The lease covers the whole round: the batch is sent MaxConcurrency at a time, each send bounded by Timeout.
        var rounds = (settings.BatchSize + settings.MaxConcurrency - 1) / settings.MaxConcurrency;
        var lease = now + settings.Timeout * rounds + TimeSpan.FromSeconds(30);

        // Between rounds nothing is in flight: each round's claim gives a subscription at most its room.
        var ids = await WebhookClaims.ClaimAsync(db, now, lease, settings.BatchSize, settings.MaxConcurrencyPerSubscription, NothingInFlight, cancellationToken);
        if (ids.Count == 0)
        {
            return 0;
        }

        var claimed = await db.WebhookDeliveries.Where(d => ids.Contains(d.Id)).ToListAsync(cancellationToken);
        var subscriptionIds = claimed.Select(d => d.SubscriptionId).Distinct().ToList();
        var subscriptions = await db.WebhookSubscriptions.AsNoTracking()
            .Where(s => subscriptionIds.Contains(s.Id)).ToDictionaryAsync(s => s.Id, cancellationToken);

        // A subscription deleted since the claim took its deliveries with it: nothing to send for them.
        var deliveries = claimed.Where(d => subscriptions.ContainsKey(d.SubscriptionId)).ToList();

        var results = new ConcurrentDictionary<Guid, (WebhookAttemptResult Result, DateTime At)>();
        var stopped = false;
        try
        {
            await Parallel.ForEachAsync(deliveries, new ParallelOptions { MaxDegreeOfParallelism = settings.MaxConcurrency, CancellationToken = cancellationToken },
                async (delivery, ct) =>
                {
                    var subscription = subscriptions[delivery.SubscriptionId];
                    var at = clock.GetUtcNow().UtcDateTime;
                    results[delivery.Id] = (await sender.SendAsync(subscription.Url, subscription.Secret, delivery, ct), at);
                });
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Stopping: the requests still in flight are cancelled and the rest of the batch is not sent; both are handed
            // back below for another replica to send at once, rather than after the lease. The attempts that did finish
            // are recorded below rather than sent again too.
            stopped = true;
        }

        var attempted = deliveries.Where(d => results.ContainsKey(d.Id)).ToList();
        foreach (var delivery in attempted)
        {
            var (result, at) = results[delivery.Id];
            Record(delivery, result, at, settings.Schedule);
            Log.Attempted(logger, delivery.Id, delivery.EmailId, delivery.Attempts, result.Succeeded ? "delivered" : result.Error ?? "failed");
        }

        var handedBack = new List<WebhookDeliveryRecord>();
        if (stopped)
        {
            // A request cancelled in flight may have reached its receiver: sending it again is the at-least-once that
            // the webhook-id lets a receiver recognise.
            handedBack.AddRange(deliveries.Where(d => !results.ContainsKey(d.Id)));
            handedBack.ForEach(d => d.LockedUntil = null);
        }

        // Made attempts and hand-backs are saved even when stopping (a few statements; the host's shutdown timeout bounds them).
        try
        {
            await db.SaveChangesAsync(CancellationToken.None);
        }
        catch (DbUpdateException ex)
        {
            // A delivery of this round was deleted while it was sent (its subscription deleted, its recipient erased),
            // and the round's one save failed with it: saved one by one, the others' attempts are kept rather than
            // sent again once their lease lapses.
            Log.RoundSavedOneByOne(logger, ex);
            await SaveOneByOneAsync([.. attempted, .. handedBack]);
        }

        await UpdateHealthAsync(db, attempted, results, CancellationToken.None);
        return attempted.Count;
    }

    private async Task SaveOneByOneAsync(List<WebhookDeliveryRecord> deliveries)
    {
        foreach (var delivery in deliveries)
        {
            await using var scope = scopes.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<StatusDbContext>();
            db.Entry(delivery).State = EntityState.Modified;
            // The body is not the dispatcher's to write: an erasure may have written it again meanwhile.
            db.Entry(delivery).Property(d => d.Payload).IsModified = false;
            foreach (var attempt in delivery.Log)
            {
                db.Entry(attempt).State = EntityState.Added;
            }

            try
            {
                await db.SaveChangesAsync(CancellationToken.None);
            }
            catch (DbUpdateException)
            {
                // This one is gone: there is nothing left to record its attempt on.
            }
        }
    }

    private static void Record(WebhookDeliveryRecord delivery, WebhookAttemptResult result, DateTime at, IReadOnlyList<TimeSpan> schedule)
    {
        delivery.Attempts++;
        delivery.LastAttemptAt = at;
        delivery.LastStatusCode = result.StatusCode;
        delivery.LastLatencyMs = result.LatencyMs;
        delivery.LastError = result.Error;
        delivery.LockedUntil = null;
        if (result.Succeeded)
        {
            delivery.Status = WebhookDeliveryStatus.Delivered;
            delivery.DeliveredAt = at;
            delivery.NextAttemptAt = null;
        }
        else if (delivery.Attempts > schedule.Count)
        {
            delivery.Status = WebhookDeliveryStatus.Failed;
            delivery.NextAttemptAt = null;
        }
        else
        {
            delivery.NextAttemptAt = at + schedule[delivery.Attempts - 1];
        }

        delivery.Log.Add(new WebhookAttemptRecord
        {
            Id = Guid.CreateVersion7(),
            DeliveryId = delivery.Id,
            Attempt = delivery.Attempts,
            AttemptedAt = at,
            StatusCode = result.StatusCode,
            LatencyMs = result.LatencyMs,
            Error = result.Error,
        });
    }

    /// <summary>
    /// A success resets a subscription's run of failures; a run long enough in time and count disables it, with a
    /// <see cref="WebhookHistory.Disabled"/> audit record committed together with the disable.
    /// </summary>
    private async Task UpdateHealthAsync(
        StatusDbContext db, List<WebhookDeliveryRecord> deliveries,
        ConcurrentDictionary<Guid, (WebhookAttemptResult Result, DateTime At)> results, CancellationToken cancellationToken)
    {
        var settings = options.Value;
        var now = clock.GetUtcNow().UtcDateTime;
        // The round's deliveries are saved (or, saved one by one elsewhere, still tracked here as changed): only an audit
        // record is saved from here on.
        db.ChangeTracker.Clear();
        foreach (var group in deliveries.GroupBy(d => d.SubscriptionId))
        {
            var id = group.Key;
            if (group.Any(d => results[d.Id].Result.Succeeded))
            {
                await db.WebhookSubscriptions.Where(s => s.Id == id && s.ConsecutiveFailures > 0)
                    .ExecuteUpdateAsync(s => s.SetProperty(x => x.ConsecutiveFailures, 0).SetProperty(x => x.FailingSince, (DateTime?)null), cancellationToken);
                continue;
            }

            var failures = group.Count();
            var firstFailure = group.Min(d => results[d.Id].At);
            await db.WebhookSubscriptions.Where(s => s.Id == id)
                .ExecuteUpdateAsync(s => s
                    .SetProperty(x => x.ConsecutiveFailures, x => x.ConsecutiveFailures + failures)
                    .SetProperty(x => x.FailingSince, x => x.FailingSince ?? firstFailure), cancellationToken);

            var failingBefore = now - settings.DisableAfter;
            var reason = $"Every attempt failed for at least {settings.DisableAfter} and {settings.DisableAfterFailures} times in a row.";
            int disabled;
            await using (var transaction = await db.Database.BeginTransactionAsync(cancellationToken))
            {
                disabled = await db.WebhookSubscriptions
                    .Where(s => s.Id == id && s.Enabled && s.ConsecutiveFailures >= settings.DisableAfterFailures && s.FailingSince <= failingBefore)
                    .ExecuteUpdateAsync(s => s
                        .SetProperty(x => x.Enabled, false)
                        .SetProperty(x => x.DisabledAt, now)
                        .SetProperty(x => x.DisabledReason, reason)
                        .SetProperty(x => x.UpdatedAt, now), cancellationToken);
                if (disabled > 0)
                {
                    db.AuditRecords.Add(WebhookHistory.Record(id, WebhookHistory.Disabled, actor: null, now, reason));
                    await db.SaveChangesAsync(cancellationToken);
                }

                await transaction.CommitAsync(cancellationToken);
            }

            if (disabled > 0)
            {
                await DisabledSubscriptions.SkipPendingAsync(db, id, cancellationToken);
                subscriptionCache.Invalidate();
                Log.SubscriptionDisabled(logger, id, reason);
            }
        }
    }
}
