using System.Diagnostics;
using EmailPlatform.Contracts;
using EmailPlatform.Delivery.Claims;
using EmailPlatform.Delivery.Relays;
using EmailPlatform.Delivery.Sending;
using EmailPlatform.Delivery.Storage;
using EmailPlatform.ServiceDefaults.Messaging;
using EmailPlatform.ServiceDefaults.Storage;
using EmailPlatform.ServiceDefaults.Telemetry;
using MassTransit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace EmailPlatform.Delivery.Retries;

/// <summary>
/// The persisted retry schedule. Deferred recipients wait in the store, not on the broker (no message is held while
/// waiting, and RabbitMQ's delayed-message plugin is not needed). When they are due, this hands a
/// <see cref="SendEmail"/> for just those recipients back to the bus, where any worker takes it like a new one.
/// It also hands back recipients whose claim lapsed (a worker died mid-send) and hand-backs presumed lost. The
/// command goes back into its priority lane (<see cref="DeliveryLanes"/>). A recipient of an email whose own
/// <c>ExpiresAt</c> has passed is failed (expired) here instead of handed back; such a failure is committed with its
/// event id before it is published, and published again under that id until it has been
/// (<see cref="PublishFinishedAsync"/>). Hand-backs and outcomes are sent in the email's trace, kept with its command
/// (<see cref="RetryMessage.TraceParent"/>): every attempt is in that one trace.
/// </summary>
/// <remarks>
/// Every replica runs one. On PostgreSQL due rows are claimed with <c>FOR UPDATE SKIP LOCKED</c>, so replicas
/// share the work without handing back the same recipient twice; SQLite is the single-process standalone host.
/// It sleeps until the next due time (bounded by <c>Delivery:RetryPollInterval</c>, for rows other replicas write)
/// and is woken early when this worker records a deferral: it never busy-polls.
/// </remarks>
internal sealed class RetryScheduler(
    IServiceScopeFactory scopes,
    IOptions<DeliveryOptions> options,
    TimeProvider time,
    RetrySignal signal,
    DeliveryMetrics metrics,
    ILogger<RetryScheduler> logger) : BackgroundService
{
    private DateTime _lastCleanup = DateTime.MinValue;

    /// <summary>Rows the hourly clean-up deletes per statement.</summary>
    internal int CleanUpBatchSize { get; set; } = BatchedDeletes.DefaultBatchSize;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            var settings = options.Value;
            TimeSpan wait;
            try
            {
                var (handedBack, nextDue) = await RunOnceAsync(stoppingToken);
                wait = handedBack >= settings.RetryBatchSize ? TimeSpan.Zero : Until(nextDue, settings.RetryPollInterval);
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                Log.SchedulerFailed(logger, ex);
                wait = settings.RetryPollInterval < TimeSpan.FromSeconds(5) ? settings.RetryPollInterval : TimeSpan.FromSeconds(5);
            }

            if (wait > TimeSpan.Zero)
            {
                await signal.WaitAsync(wait, stoppingToken);
            }
        }
    }

    /// <summary>
    /// How long a recipient handed back now waits before it is handed back again, should no worker have taken the command
    /// by then (a command lost with a queue, or one still waiting behind a backlog in its lane): <c>Delivery:RequeueAfter</c>
    /// the first time; twice as long as the last wait each time after that (the record still <c>queued</c>, as the last
    /// hand-back left it), up to eight times <c>RequeueAfter</c> (2 hours by default). A lane hours behind then holds a
    /// few copies of each deferred recipient's command, not one more every <c>RequeueAfter</c>, each a consume, a claim
    /// and a look at the store that finds it sent already.
    /// </summary>
    internal static TimeSpan HandBackWait(DeliveryRecord record, DateTime now, TimeSpan requeueAfter)
    {
        if (record.State != DeliveryState.Queued)
        {
            return requeueAfter;
        }

        var twice = 2 * (now - record.UpdatedAt);
        var longest = 8 * requeueAfter;
        return twice < requeueAfter ? requeueAfter : twice > longest ? longest : twice;
    }

    /// <summary>Hands back what is due now; returns how many recipients and when the next one is due.</summary>
    internal async Task<(int HandedBack, DateTime? NextDue)> RunOnceAsync(CancellationToken cancellationToken)
    {
        var settings = options.Value;
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<DeliveryDbContext>();
        var bus = scope.ServiceProvider.GetRequiredService<IBus>();
        var now = time.GetUtcNow().UtcDateTime;

        int count;
        var finished = new List<Finished>();
        await using (var transaction = await db.Database.BeginTransactionAsync(cancellationToken))
        {
            var due = await DueAsync(db, now, settings.RetryBatchSize, cancellationToken);
            count = due.Count;
            var commands = new List<(SendEmail Command, string? TraceParent)>();
            foreach (var email in due.GroupBy(d => d.EmailId))
            {
                var stored = await db.RetryMessages.FindAsync([email.Key], cancellationToken);
                var command = stored is null ? null : DeliveryLedger.ReadCommand(stored);
                var expired = command?.ExpiresAt is { } deadline && now >= deadline.UtcDateTime;
                var handBack = new List<string>();
                var changed = false;
                foreach (var record in email)
                {
                    if (record.State.IsFinal())
                    {
                        // Failed by an earlier round that did not get to publish it (a publish that failed or was not
                        // confirmed, a crash after the commit): published again as it was stored, under the same event id.
                        finished.Add(new Finished(record, command?.Priority, stored?.TraceParent, New: false));
                        continue;
                    }

                    changed = true;
                    if (command is null && record.State == DeliveryState.Sending)
                    {
                        // A claim lapsed with nothing kept: its worker stopped during a first attempt, and the broker gives
                        // that command to the next worker that consumes, which a worker restarting after more than a lease
                        // meets only now; or its worker is still waiting to send, and finds the claim lost before MAIL FROM
                        // and tries the command again. The recipient waits, unclaimed, for it (the command claims it at
                        // once) before it counts as lost: one more lease, and as long again as a worker holds a command
                        // unacknowledged while its store is out of reach (StoreOutageRetry.Span). A worker cut off from
                        // the store alone, while the others go on, gets the command back to its own retries for that
                        // long, and sends it once the store answers; failed as lost before that, the email would either
                        // never be sent or be reported failed after it was delivered.
                        record.State = DeliveryState.Queued;
                        record.ClaimId = null;
                        record.DueAt = now + settings.ClaimLease + StoreOutageRetry.Span;
                    }
                    else if (command is null)
                    {
                        record.State = DeliveryState.Failed;
                        record.FailedAs = FailureKind.Lost;
                        record.Reason = "The delivery worker no longer has this message to retry.";
                        record.OutcomeEventId = NewId.NextGuid();
                        record.OutcomeAt = now;
                        record.DueAt = now + settings.PublishTimeout;
                        finished.Add(new Finished(record, null, null, New: true));
                    }
                    else if (expired)
                    {
                        DeliveryLedger.Expire(record, now,
                            $"Expired: still not delivered after {record.Attempt} attempt(s) when the email's expires_at ({command.ExpiresAt:O}) passed. " +
                            $"Last attempt: {record.Reason ?? "none"}");
                        record.DueAt = now + settings.PublishTimeout;
                        finished.Add(new Finished(record, command.Priority, stored?.TraceParent, New: true));
                        continue;
                    }
                    else
                    {
                        record.DueAt = now + HandBackWait(record, now, settings.RequeueAfter);
                        record.State = DeliveryState.Queued;
                        record.ClaimId = null;
                        handBack.Add(record.Recipient);
                    }

                    record.UpdatedAt = now;
                    record.Version++;
                }

                if (command is not null && handBack.Count > 0)
                {
                    commands.Add((command with { Envelope = command.Envelope with { RcptTo = handBack } }, stored?.TraceParent));
                }
                else if (changed && stored is not null && (await db.Deliveries.Where(d => d.EmailId == email.Key).ToListAsync(cancellationToken)).All(d => d.State.IsFinal()))
                {
                    // Every recipient is final now: keep the content only as long as a bulk retry may want it.
                    stored.KeepUntil = now + settings.FailedContentRetention;
                }
            }

            await db.SaveChangesAsync(cancellationToken);

            // Hand-backs are sent before the commit: a crash in between hands the same recipients back again later, which
            // the claims turn into nothing worse than one extra command on the bus.
            // A lane without a bound queue makes the send throw (mandatory), and a send the broker does not confirm
            // within Delivery:PublishTimeout throws too (a confirm lost in a broker restart would otherwise hold this
            // loop, and the rows it locked, for ever): the transaction rolls back and the rows stay due for the next round.
            foreach (var (command, traceParent) in commands)
            {
                using (StartActivity(nameof(SendEmail), command.EmailId, traceParent))
                {
                    await PublishDeadline.RunAsync(settings.PublishTimeout, cancellationToken, token => DeliveryLanes.SendAsync(bus, command, token));
                }

                Log.HandedBack(logger, command.EmailId, command.Envelope.RcptTo.Count);
            }

            await transaction.CommitAsync(cancellationToken);
            foreach (var (record, priority, _, _) in finished.Where(f => f.New))
            {
                metrics.RecordOutcome(record, priority);
            }
        }

        await PublishFinishedAsync(db, bus, finished, settings, cancellationToken);

        if (now - _lastCleanup >= TimeSpan.FromHours(1))
        {
            _lastCleanup = now;
            await CleanUpAsync(db, now, settings, cancellationToken);
        }

        var nextDue = await db.Deliveries.Where(d => d.DueAt != null).MinAsync(d => d.DueAt, cancellationToken);
        return (count, nextDue);
    }

    /// <summary>
    /// Publishes the failures this round recorded, and those an earlier round recorded without getting them published,
    /// from their committed records: a publish that fails, or is not confirmed within <c>Delivery:PublishTimeout</c>, or a
    /// crash before it, leaves the record as it is, final with its event id and due again (a
    /// <see cref="DeliveryRecord.DueAt"/> one <c>Delivery:PublishTimeout</c> ahead), and a later round, on any replica,
    /// publishes it again under that same event id. Once published, the record is no longer due. Publishing before the
    /// commit instead gave every round that rolled back (a later publish of the same round that failed, a commit that
    /// failed) its own event ids for the same failures: the status service, which knows an event by its id, recorded
    /// each recipient's failure twice and sent its webhooks twice.
    /// </summary>
    private static async Task PublishFinishedAsync(
        DeliveryDbContext db, IBus bus, List<Finished> finished, DeliveryOptions settings, CancellationToken cancellationToken)
    {
        if (finished.Count == 0)
        {
            return;
        }

        foreach (var (record, _, traceParent, _) in finished)
        {
            // The scheduler finishes a recipient only as failed (expired, or lost).
            using (StartActivity(nameof(EmailFailed), record.EmailId, traceParent))
            {
                await PublishDeadline.RunAsync(settings.PublishTimeout, cancellationToken, token => RecordedOutcomes.PublishAsync(bus, record, token));
            }
        }

        // Only the failure that was published, and only while it is one: a record an operator's retry made due meanwhile
        // (deferred, its event id unchanged) is left due.
        var emailIds = finished.Select(f => f.Record.EmailId).Distinct().ToList();
        var eventIds = finished.Select(f => f.Record.OutcomeEventId).ToList();
        await db.Deliveries
            .Where(d => emailIds.Contains(d.EmailId) && eventIds.Contains(d.OutcomeEventId) && d.State == DeliveryState.Failed && d.DueAt != null)
            .ExecuteUpdateAsync(set => set.SetProperty(d => d.DueAt, (DateTime?)null), cancellationToken);
    }

    /// <summary>
    /// The span of a hand-back or an outcome, in the email's trace: a child of the attempt that kept its command
    /// (<see cref="RetryMessage.TraceParent"/>), so that the next attempt, its status record and its webhooks are in that
    /// trace too, and tagged with the email id, which the bus spans under it carry as baggage. Without a kept trace (a
    /// command kept before it was, or none kept at all) it starts a trace of its own.
    /// </summary>
    private static Activity? StartActivity(string messageType, Guid emailId, string? traceParent)
    {
        ActivityContext.TryParse(traceParent, null, out var parent);
        var activity = DeliveryTelemetry.Source.StartActivity("retry publish " + messageType, ActivityKind.Producer, parent);
        EmailTelemetry.SetEmailId(activity, emailId);
        return activity;
    }

    private static Task<List<DeliveryRecord>> DueAsync(DeliveryDbContext db, DateTime now, int batch, CancellationToken cancellationToken) =>
        db.Database.IsNpgsql()
            ? db.Deliveries
                .FromSql($"SELECT * FROM deliveries WHERE due_at <= {now} ORDER BY due_at LIMIT {batch} FOR UPDATE SKIP LOCKED")
                .ToListAsync(cancellationToken)
            : db.Deliveries.Where(d => d.DueAt <= now).OrderBy(d => d.DueAt).Take(batch).ToListAsync(cancellationToken);

    /// <summary>
    /// Hourly: final records past <c>Delivery:RecordRetention</c> are no longer needed to recognise a redelivery, nor
    /// carried-out operator commands; kept content past its <see cref="RetryMessage.KeepUntil"/> is deleted. An hour of
    /// traffic is millions of records at full speed: each statement deletes at most <see cref="CleanUpBatchSize"/> of
    /// them, oldest first, found through an index (<see cref="BatchedDeletes"/>).
    /// </summary>
    /// <returns>How many rows were deleted.</returns>
    internal async Task<int> CleanUpAsync(DeliveryDbContext db, DateTime now, DeliveryOptions settings, CancellationToken cancellationToken)
    {
        var before = now - settings.RecordRetention;
        var deleted = await db.Deliveries.Where(d => d.DueAt == null && d.UpdatedAt < before).OrderBy(d => d.UpdatedAt)
            .ExecuteDeleteInBatchesAsync(CleanUpBatchSize, cancellationToken);
        deleted += await db.ProcessedCommands.Where(c => c.ProcessedAt < before).OrderBy(c => c.ProcessedAt)
            .ExecuteDeleteInBatchesAsync(CleanUpBatchSize, cancellationToken);
        deleted += await db.RetryMessages.Where(m => m.KeepUntil != null && m.KeepUntil < now).OrderBy(m => m.KeepUntil)
            .ExecuteDeleteInBatchesAsync(CleanUpBatchSize, cancellationToken);

        // A command kept by a worker that found another's live claim, after that other worker (on a fresh claim, which
        // skips the lookup) recorded every recipient final: nothing is pending for it any more.
        var orphanedBefore = now - settings.ClaimLease;
        deleted += await db.RetryMessages
            .Where(m => m.KeepUntil == null && m.CreatedAt < orphanedBefore && !db.Deliveries.Any(d => d.EmailId == m.EmailId && d.DueAt != null))
            .OrderBy(m => m.EmailId)
            .ExecuteDeleteInBatchesAsync(CleanUpBatchSize, cancellationToken);
        return deleted;
    }

    private TimeSpan Until(DateTime? nextDue, TimeSpan poll)
    {
        if (nextDue is null)
        {
            return poll;
        }

        var wait = nextDue.Value - time.GetUtcNow().UtcDateTime;
        // Rows due now that another replica holds locked: look again shortly, not in a tight loop.
        var floor = TimeSpan.FromMilliseconds(200);
        return wait < floor ? floor : wait < poll ? wait : poll;
    }

    /// <summary>A recipient failed for good, to publish; <paramref name="New"/> when this round failed it (and counts it).</summary>
    private sealed record Finished(DeliveryRecord Record, EmailPriority? Priority, string? TraceParent, bool New);
}
