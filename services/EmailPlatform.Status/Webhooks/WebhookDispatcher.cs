using EmailPlatform.Status.Recording;
using EmailPlatform.Status.Storage;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace EmailPlatform.Status.Webhooks;

/// <summary>
/// Sends due webhook deliveries. It keeps up to <see cref="WebhookOptions.MaxConcurrency"/> requests in flight and claims
/// more as each one finishes, rather than in rounds that last as long as their slowest request; the claim
/// (<see cref="WebhookClaims"/>) leases each delivery (<c>FOR UPDATE SKIP LOCKED</c> on PostgreSQL, so replicas share the
/// work) and gives one subscription at most <see cref="WebhookOptions.MaxConcurrencyPerSubscription"/> of the requests,
/// so that an endpoint that never answers holds a few slots until its timeouts and not every other subscription's
/// webhooks. Each attempt is recorded once it has finished; a failed one is retried after the next step of
/// <see cref="WebhookOptions.Schedule"/>, and a subscription whose attempts keep failing is disabled. A crash leaves
/// leases that expire, so deliveries are sent at least once; a stop cancels the requests in flight but still records the
/// attempts that had finished, and hands the rest back (their lease cleared) for another replica to send at once.
/// Housekeeping runs beside the sending, so that its failing or taking long never holds the deliveries up.
/// </summary>
public sealed class WebhookDispatcher(
    IServiceScopeFactory scopes,
    WebhookSender sender,
    IOptions<WebhookOptions> options,
    WebhookMetrics metrics,
    TimeProvider clock,
    ILogger<WebhookDispatcher> logger) : BackgroundService
{
    /// <summary>
    /// What a lease allows beyond the one request it covers (<see cref="WebhookOptions.Timeout"/>): a claimed delivery is
    /// sent at once, and its attempt is recorded as soon as the loop has recorded those that finished before it.
    /// </summary>
    private static readonly TimeSpan LeaseMargin = TimeSpan.FromSeconds(30);

    /// <summary>The longest wait before housekeeping is tried again after failing again and again.</summary>
    private static readonly TimeSpan MaxHousekeepingBackOff = TimeSpan.FromMinutes(5);

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.WhenAll(HousekeepContinuouslyAsync(stoppingToken), DispatchContinuouslyAsync(stoppingToken));

    /// <summary>
    /// Every <see cref="WebhookMetrics.PendingRefresh"/>, beside the sending and failing on its own: a failure (a statement
    /// timing out on a large table, the store away) is logged and tried again after <see cref="WebhookOptions.PollInterval"/>,
    /// soon enough that a blip (a store not yet reachable at start) leaves the pending gauge empty only briefly, and each
    /// further failure in a row doubles the wait, up to <see cref="MaxHousekeepingBackOff"/>.
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
                var backOff = options.Value.PollInterval * Math.Pow(2, Math.Min(failures - 1, 16));
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

    /// <summary>Every <see cref="WebhookMetrics.PendingRefresh"/>: skips what disabled subscriptions still have pending, and counts what is due.</summary>
    public async Task HousekeepAsync(CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<StatusDbContext>();
        var settings = options.Value;
        // Each step does a bounded amount per pass, and a step that fails is logged and tried again at the next pass, so
        // that one step failing again and again (a statement timing out on a large table) holds up neither the other
        // step nor the count for the pending gauge.
        try
        {
            await DisabledSubscriptions.SkipAllPendingAsync(db, settings.HousekeepingBatchSize, settings.HousekeepingBatchesPerPass, cancellationToken);
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            Log.HousekeepingStepFailed(logger, "skip the pending deliveries of disabled subscriptions", ex);
        }

        var now = clock.GetUtcNow().UtcDateTime;
        // And purges some of what deleted subscriptions left.
        try
        {
            var purge = await DeletedSubscriptions.PurgeAsync(
                db, now - DeletedSubscriptions.RemoveAfter, settings.HousekeepingBatchSize, settings.HousekeepingBatchesPerPass, cancellationToken);
            foreach (var removed in purge.Removed)
            {
                Log.DeletedSubscriptionRemoved(logger, removed);
            }
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            Log.HousekeepingStepFailed(logger, "purge the deliveries of deleted subscriptions", ex);
        }

        metrics.SetPending(await db.WebhookDeliveries.CountAsync(d => d.Status == WebhookDeliveryStatus.Pending && d.NextAttemptAt <= now, cancellationToken));
    }

    /// <summary>
    /// The loop: record what has finished, claim into the free slots, then wait for a request to finish. It claims again
    /// at once while claims come back full or a request has finished (its slot, and its subscription's room, are free
    /// again), and otherwise after <see cref="WebhookOptions.PollInterval"/>.
    /// </summary>
    private async Task DispatchContinuouslyAsync(CancellationToken stoppingToken)
    {
        var settings = options.Value;
        var sending = new List<Sending>();
        var claimNow = true;
        while (!stoppingToken.IsCancellationRequested)
        {
            var finished = sending.FindAll(s => s.Attempt.IsCompleted);
            if (finished.Count > 0)
            {
                sending.RemoveAll(finished.Contains);
                await RecordAsync(finished);
                claimNow = true;
            }

            var slots = Math.Min(settings.MaxConcurrency - sending.Count, settings.BatchSize);
            if (claimNow && slots > 0)
            {
                try
                {
                    claimNow = await ClaimAndSendAsync(slots, sending, stoppingToken) == slots;
                }
                catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
                {
                    Log.DispatchFailed(logger, ex);
                    claimNow = false;
                }
                catch (Exception)
                {
                    // Stopping: the claim was cancelled with it. A lease it took without reading it back lapses.
                    break;
                }

                if (claimNow)
                {
                    continue;
                }
            }

            // Until a request finishes, or the poll interval passes and the queue may have more by now.
            using var poll = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
            var interval = Task.Delay(settings.PollInterval, poll.Token);
            var first = await Task.WhenAny([.. sending.Select(s => (Task)s.Attempt), interval]);
            await poll.CancelAsync();
            claimNow |= first == interval;
        }

        // Stopping: the requests still in flight were cancelled with the token and end at once. The attempts that finished
        // are recorded rather than sent again; the ones cut short are handed back for another replica to send at once,
        // rather than after their lease.
        await Task.WhenAll(sending.Select(s => (Task)s.Attempt)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        await RecordAsync(sending);
    }

    /// <summary>
    /// One claim of up to <see cref="WebhookOptions.BatchSize"/>, its sends and their record, for a test that drives the
    /// dispatcher a step at a time (having stopped the hosted dispatcher's own loops first).
    /// </summary>
    /// <returns>How many deliveries were sent.</returns>
    internal async Task<int> DispatchOnceAsync(CancellationToken cancellationToken)
    {
        var sending = new List<Sending>();
        await ClaimAndSendAsync(options.Value.BatchSize, sending, cancellationToken);
        await Task.WhenAll(sending.Select(s => (Task)s.Attempt)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        await RecordAsync(sending);
        return sending.Count;
    }

    /// <returns>How many deliveries were claimed (those of a subscription disabled or deleted since are claimed but not sent).</returns>
    private async Task<int> ClaimAndSendAsync(int slots, List<Sending> sending, CancellationToken stoppingToken)
    {
        var settings = options.Value;
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<StatusDbContext>();
        var now = clock.GetUtcNow().UtcDateTime;
        var lease = now + settings.Timeout + LeaseMargin;
        var inFlight = sending.GroupBy(s => s.Delivery.SubscriptionId).ToDictionary(g => g.Key, g => g.Count());

        var ids = await WebhookClaims.ClaimAsync(db, now, lease, slots, settings.MaxConcurrencyPerSubscription, inFlight, stoppingToken);
        if (ids.Count == 0)
        {
            return 0;
        }

        // Claimed: sent even if the stop comes now, when the send hands them back at once rather than leaving the lease.
        var deliveries = await db.WebhookDeliveries.AsNoTracking().Where(d => ids.Contains(d.Id)).ToListAsync(CancellationToken.None);
        var subscriptionIds = deliveries.Select(d => d.SubscriptionId).Distinct().ToList();
        var subscriptions = await db.WebhookSubscriptions.AsNoTracking()
            .Where(s => subscriptionIds.Contains(s.Id) && s.Enabled).ToDictionaryAsync(s => s.Id, CancellationToken.None);

        // A subscription disabled or deleted since the claim gets nothing more: its deliveries keep their lease until it
        // lapses, and the housekeeping skips or purges them.
        foreach (var delivery in deliveries.Where(d => subscriptions.ContainsKey(d.SubscriptionId)))
        {
            sending.Add(new Sending(delivery, SendAsync(subscriptions[delivery.SubscriptionId], delivery, stoppingToken)));
        }

        return ids.Count;
    }

    /// <returns>The attempt, or null when the stop cut it short.</returns>
    private async Task<Attempt?> SendAsync(WebhookSubscriptionRecord subscription, WebhookDeliveryRecord delivery, CancellationToken stoppingToken)
    {
        try
        {
            var at = clock.GetUtcNow().UtcDateTime;
            return new Attempt(await sender.SendAsync(subscription.Url, subscription.Secret, delivery, stoppingToken), at);
        }
        catch (Exception) when (stoppingToken.IsCancellationRequested)
        {
            // Cut short by the stop, whatever it surfaced as (a cancellation, or the HttpRequestException of a connection
            // torn down meanwhile): handed back, for another replica to send at once, not left to its lease.
            return null;
        }
    }

    /// <summary>
    /// Saves the finished attempts and the hand-backs in one go, then the subscriptions' health. The deliveries were read
    /// untracked when claimed, and are attached here unchanged before the attempt changes them, so only the dispatcher's
    /// columns are written: the body is not the dispatcher's to write (an erasure, or the email's details arriving, may have
    /// written it again meanwhile).
    /// A send that failed in a way the sender does not report (a defect, not the endpoint) is left to its lease, unless the
    /// stop cut it short: then it is handed back like any send the stop cut short.
    /// </summary>
    private async Task RecordAsync(List<Sending> finished)
    {
        var settings = options.Value;
        var attempted = new List<(WebhookDeliveryRecord Delivery, Attempt Attempt)>();
        var handedBack = new List<WebhookDeliveryRecord>();
        try
        {
            await using var scope = scopes.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<StatusDbContext>();
            foreach (var send in finished)
            {
                var delivery = send.Delivery;
                if (!send.Attempt.IsCompletedSuccessfully)
                {
                    Log.SendFailed(logger, delivery.Id, send.Attempt.Exception);
                    continue;
                }

                db.WebhookDeliveries.Attach(delivery);
                if (send.Attempt.Result is { } attempt)
                {
                    db.Entry(Record(delivery, attempt.Result, attempt.At, settings.Schedule)).State = EntityState.Added;
                    attempted.Add((delivery, attempt));
                    Log.Attempted(logger, delivery.Id, delivery.EmailId, delivery.Attempts, attempt.Result.Succeeded ? "delivered" : attempt.Result.Error ?? "failed");
                }
                else
                {
                    // A request cancelled in flight may have reached its receiver: sending it again is the at-least-once
                    // that the webhook-id lets a receiver recognise.
                    delivery.LockedUntil = null;
                    handedBack.Add(delivery);
                }
            }

            try
            {
                await db.SaveChangesAsync(CancellationToken.None);
            }
            catch (DbUpdateException ex)
            {
                // A delivery recorded here was deleted while it was sent (its subscription deleted, its recipient erased),
                // and the one save failed with it: saved one by one, the others' attempts are kept rather than sent again
                // once their lease lapses.
                Log.SavedOneByOne(logger, ex);
                await SaveOneByOneAsync([.. attempted.Select(a => a.Delivery), .. handedBack], db);
            }

            await UpdateHealthAsync(db, attempted, CancellationToken.None);
        }
        catch (Exception ex)
        {
            // The store failed: what was not saved is sent again once its lease lapses, as after a crash.
            Log.DispatchFailed(logger, ex);
        }
    }

    /// <param name="failed">The context whose one save failed: it tells which columns the attempt changed, the only ones
    /// written here, as that save would have (not the status a disable may have set to <c>skipped</c> meanwhile, nor the
    /// body, which an erasure or the email's details arriving may have written again).</param>
    private async Task SaveOneByOneAsync(List<WebhookDeliveryRecord> deliveries, StatusDbContext failed)
    {
        var changed = deliveries.ToDictionary(d => d, d => failed.Entry(d).Properties.Where(p => p.IsModified).Select(p => p.Metadata.Name).ToList());
        failed.ChangeTracker.Clear();
        foreach (var delivery in deliveries)
        {
            await using var scope = scopes.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<StatusDbContext>();
            db.WebhookDeliveries.Attach(delivery);
            foreach (var property in changed[delivery])
            {
                db.Entry(delivery).Property(property).IsModified = true;
            }

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

    /// <returns>The attempt's entry in the delivery's log.</returns>
    private static WebhookAttemptRecord Record(WebhookDeliveryRecord delivery, WebhookAttemptResult result, DateTime at, IReadOnlyList<TimeSpan> schedule)
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

        var attempt = new WebhookAttemptRecord
        {
            Id = Guid.CreateVersion7(),
            DeliveryId = delivery.Id,
            Attempt = delivery.Attempts,
            AttemptedAt = at,
            StatusCode = result.StatusCode,
            LatencyMs = result.LatencyMs,
            Error = result.Error,
        };
        delivery.Log.Add(attempt);
        return attempt;
    }

    /// <summary>
    /// A success resets a subscription's run of failures; a run long enough in time and count disables it, with a
    /// <see cref="WebhookHistory.Disabled"/> audit record committed together with the disable.
    /// </summary>
    private async Task UpdateHealthAsync(
        StatusDbContext db, List<(WebhookDeliveryRecord Delivery, Attempt Attempt)> attempted, CancellationToken cancellationToken)
    {
        var settings = options.Value;
        var now = clock.GetUtcNow().UtcDateTime;
        // The attempts are saved (here, or one by one in contexts of their own): only an audit record is saved from here on.
        db.ChangeTracker.Clear();
        foreach (var group in attempted.GroupBy(a => a.Delivery.SubscriptionId))
        {
            var id = group.Key;
            if (group.Any(a => a.Attempt.Result.Succeeded))
            {
                await db.WebhookSubscriptions.Where(s => s.Id == id && s.ConsecutiveFailures > 0)
                    .ExecuteUpdateAsync(s => s
                        .SetProperty(x => x.ConsecutiveFailures, 0)
                        .SetProperty(x => x.FailingSince, (DateTime?)null)
                        .SetProperty(x => x.LastFailureAt, (DateTime?)null), cancellationToken);
                continue;
            }

            var failures = group.Count();
            var firstFailure = group.Min(a => a.Attempt.At);
            var lastFailure = group.Max(a => a.Attempt.At);
            // A run is failures that follow each other: one long after the run's last failure starts a new run.
            var runEndedBefore = firstFailure - settings.RunGap;
            await db.WebhookSubscriptions.Where(s => s.Id == id)
                .ExecuteUpdateAsync(s => s
                    .SetProperty(x => x.ConsecutiveFailures, x => x.LastFailureAt < runEndedBefore ? failures : x.ConsecutiveFailures + failures)
                    .SetProperty(x => x.FailingSince, x => x.LastFailureAt < runEndedBefore ? firstFailure : x.FailingSince ?? firstFailure)
                    .SetProperty(x => x.LastFailureAt, x => x.LastFailureAt > lastFailure ? x.LastFailureAt : lastFailure), cancellationToken);

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
                // What the batches that read it still enabled queued for it is committed before the skip.
                await RecorderBatches.TryWaitForBatchesAsync(db, id, logger);
                await DisabledSubscriptions.SkipPendingAsync(db, id, cancellationToken);
                Log.SubscriptionDisabled(logger, id, reason);
            }
        }
    }

    /// <summary>One delivery being sent.</summary>
    private sealed record Sending(WebhookDeliveryRecord Delivery, Task<Attempt?> Attempt);

    private sealed record Attempt(WebhookAttemptResult Result, DateTime At);
}
