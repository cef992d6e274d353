using System.Diagnostics;
using System.Text.Json;
using EmailPlatform.Contracts;
using EmailPlatform.Delivery.Relays;
using EmailPlatform.Delivery.Retries;
using EmailPlatform.Delivery.Smtp;
using EmailPlatform.Delivery.Storage;
using EmailPlatform.ServiceDefaults.Json;
using EmailPlatform.ServiceDefaults.Storage;
using MassTransit;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Npgsql;

namespace EmailPlatform.Delivery.Claims;

/// <summary>
/// Exactly-once as far as SMTP allows: a worker claims an email's recipients in the store before it speaks SMTP and
/// records each recipient's outcome after the relay answers.
/// <list type="bullet">
/// <item>A redelivered or duplicated <see cref="SendEmail"/> whose recipients already have an outcome is not sent
/// again: the recorded outcome is re-published under its original event id instead.</item>
/// <item>A recipient claimed by another worker is left alone; if that worker dies, its claim lapses after
/// <c>Delivery:ClaimLease</c> and the retry scheduler hands the recipient back to the bus.</item>
/// <item>Attempt numbers live here, so a broker redelivery continues the count instead of restarting it.</item>
/// </list>
/// The one window left: the relay answered 250 but the worker died (or lost the store) before the outcome was
/// recorded. The claim then lapses and the recipient is sent again with the same <c>Message-ID</c>: a duplicate the
/// receiving side can recognise, never a loss. Nothing else in the worker can send a message twice.
/// </summary>
internal sealed class DeliveryLedger(
    DeliveryDbContext db,
    IOptions<DeliveryOptions> options,
    TimeProvider time,
    RetrySignal signal,
    ILogger<DeliveryLedger> logger,
    LedgerWrites? writes = null)
{
    /// <summary>The first pause before an outcome's record is tried again while the store is unreachable; it doubles each time.</summary>
    private static readonly TimeSpan FirstRecordPause = TimeSpan.FromMilliseconds(200);

    /// <summary>Tries of one save when the email's kept command was written meanwhile (<see cref="IsAboutTheKeptCommand"/>).</summary>
    private const int MaxSaveAttempts = 4;

    private const string RetryMessagesTable = "retry_messages";

    /// <summary>The longest pause between two tries of an outcome's record.</summary>
    private static readonly TimeSpan LongestRecordPause = TimeSpan.FromSeconds(5);

    /// <summary>The distinct envelope recipients, as the relay gets them.</summary>
    public static IReadOnlyList<string> RecipientsOf(SendEmail email) =>
        (email.Envelope?.RcptTo ?? []).Distinct(StringComparer.OrdinalIgnoreCase).ToList();

    public async Task<Claim> ClaimAsync(SendEmail email, IReadOnlyList<string> recipients, CancellationToken cancellationToken)
    {
        var settings = options.Value;
        var now = Now;
        var claimId = NewId.NextGuid();
        var deadline = email.ExpiresAt?.UtcDateTime;
        var inserted = 0;
        if (recipients.Count > 0 && !(now >= deadline) && writes is not null)
        {
            // Not abandoned on cancellation: once handed over, the claim commits (or not) with its batch, and this attempt
            // must know which.
            var fresh = await InsertClaimAsync(writes, email.EmailId, recipients, claimId, now, deadline ?? now + settings.MaxRetryAge);
            if (fresh.Count == recipients.Count)
            {
                return new Claim(claimId, fresh, []) { ClaimedAt = now, Fresh = true };
            }

            inserted = fresh.Count;
        }

        var existing = await db.Deliveries.Where(d => d.EmailId == email.EmailId).ToListAsync(cancellationToken);
        var toSend = new List<DeliveryRecord>();
        var recorded = new List<DeliveryRecord>();
        var expired = new List<DeliveryRecord>();
        var sentElsewhere = false;

        foreach (var recipient in recipients)
        {
            var record = existing.Find(d => d.Recipient == recipient);
            if (record?.ClaimId == claimId)
            {
                // Inserted just now by this claim (InsertClaimAsync): it is this attempt's already.
                toSend.Add(record);
                continue;
            }

            if (record is null)
            {
                record = new DeliveryRecord
                {
                    EmailId = email.EmailId,
                    Recipient = recipient,
                    FirstAttemptAt = now,
                    ExpiresAt = deadline ?? now + settings.MaxRetryAge,
                };
                db.Deliveries.Add(record);
            }
            else if (record.State.IsFinal() || (record.State == DeliveryState.Deferred && record.DueAt > now))
            {
                // Final, or waiting for its next attempt (the scheduler owns that): say again what was recorded.
                recorded.Add(record);
                continue;
            }
            else if (record.State == DeliveryState.Sending && record.DueAt > now)
            {
                // Another worker holds a live claim. Keep the command so that, should that worker have died, the
                // scheduler can hand the recipient back to the bus once the claim lapses.
                sentElsewhere = true;
                continue;
            }

            if (now >= deadline)
            {
                // The client's own deadline has passed: no attempt starts after it.
                Expire(record, now, $"Expired: the email's expires_at ({email.ExpiresAt:O}) passed before attempt {record.Attempt + 1} could start.");
                expired.Add(record);
                continue;
            }

            record.State = DeliveryState.Sending;
            record.Attempt++;
            record.ClaimId = claimId;
            record.DueAt = now + settings.ClaimLease;
            Touch(record, now);
            toSend.Add(record);
        }

        if (sentElsewhere)
        {
            await KeepCommandAsync(email, now, cancellationToken);
        }
        else if (expired.Count > 0)
        {
            await SettleCommandAsync(email, now, cancellationToken, existing);
        }

        await SaveAsync(cancellationToken);
        return new Claim(claimId, toSend, recorded) { Expired = expired, ClaimedAt = now, Fresh = existing.Count == inserted && !sentElsewhere };
    }

    /// <summary>
    /// The usual case in one store round trip (PostgreSQL, group-committed with other messages' claims by
    /// <see cref="LedgerWrites"/>): inserts a claimed record (attempt 1) for every recipient that has none yet and returns
    /// those, tracked as stored, so that recording the outcome is a plain update. When every recipient was inserted the
    /// claim is complete and fresh; otherwise the email has been seen before (a redelivery, a retry, a concurrent
    /// duplicate) and <see cref="ClaimAsync"/> goes on with the rest from the store, keeping the rows inserted here as its
    /// own. The statement is atomic, and ON CONFLICT DO NOTHING means a concurrent claim of the same recipient is never
    /// overwritten: it is left out here and found live there.
    /// </summary>
    private async Task<List<DeliveryRecord>> InsertClaimAsync(
        LedgerWrites store, Guid emailId, IReadOnlyList<string> recipients, Guid claimId, DateTime now, DateTime expiresAt)
    {
        var dueAt = now + options.Value.ClaimLease;
        var inserted = await store.ClaimFreshAsync(new FreshClaim(emailId, recipients, claimId, now, dueAt, expiresAt));
        var claimed = inserted.Select(recipient => new DeliveryRecord
        {
            EmailId = emailId,
            Recipient = recipient,
            State = DeliveryState.Sending,
            Attempt = 1,
            ClaimId = claimId,
            DueAt = dueAt,
            FirstAttemptAt = now,
            ExpiresAt = expiresAt,
            UpdatedAt = now,
            Version = 1,
        }).ToList();
        db.Deliveries.AttachRange(claimed);
        return claimed;
    }

    /// <summary>
    /// Writes a recorded outcome. The usual case on PostgreSQL, one recipient's record changed and nothing else, is a
    /// conditional UPDATE on the version the claim read (as EF Core's concurrency check does), group-committed with other
    /// messages' outcomes by <see cref="LedgerWrites"/>, without EF Core's update pipeline; everything else goes through
    /// <see cref="SaveAsync"/>. A version that no longer matches (the claim was taken over) fails the same way as there:
    /// the consumer's retry starts again from the store.
    /// </summary>
    private async Task SaveOutcomeAsync()
    {
        var changed = db.ChangeTracker.Entries().Where(e => e.State != EntityState.Unchanged).Take(2).ToList();
        if (writes is null || changed is not [{ State: EntityState.Modified, Entity: DeliveryRecord record } entry])
        {
            await SaveAsync(CancellationToken.None);
            return;
        }

        var storedVersion = (int)entry.Property(nameof(DeliveryRecord.Version)).OriginalValue!;
        if (!await writes.RecordOutcomeAsync(new OutcomeWrite(record, storedVersion)))
        {
            db.ChangeTracker.Clear();
            throw new DbUpdateConcurrencyException($"The record of {record.Recipient} for email {record.EmailId} changed since it was claimed.");
        }

        db.ChangeTracker.AcceptAllChanges();
    }

    /// <summary>The stored form of a state, as <see cref="DeliveryDbContext"/>'s converter writes it.</summary>
    internal static string StateValue(DeliveryState state) => state.ToString().ToLowerInvariant();

    /// <summary>
    /// Records what the relay said for each claimed recipient (or that it is suppressed, not sent) and returns the
    /// records to publish. Runs to the end even during shutdown: the relay has answered, and an unrecorded 250 would be
    /// sent again once the claim lapses. For the same reason a store that cannot be reached is tried again in place,
    /// with growing pauses, for as long as the claim is this worker's (<paramref name="claimedUntil"/>, read before
    /// each pause): a store outage shorter than the lease costs a wait, not a duplicate. Anything else (a conflict: the
    /// claim was taken over) fails at once, as before.
    /// </summary>
    public async Task<IReadOnlyList<DeliveryRecord>> RecordAsync(
        SendEmail email, Claim claim, string? relay, IReadOnlyList<RecipientOutcome> outcomes, Func<DateTime>? claimedUntil = null)
    {
        var settings = options.Value;
        var now = Now;
        var result = new List<DeliveryRecord>();
        var deferred = false;

        foreach (var outcome in outcomes)
        {
            var record = claim.ToSend.FirstOrDefault(r => r.Recipient == outcome.Recipient);
            if (record is null || record.ClaimId != claim.ClaimId)
            {
                continue;
            }

            record.Relay = relay;
            record.ReplyCode = outcome.Reply?.Code;
            record.EnhancedCode = outcome.Reply?.EnhancedCode;
            record.ReplyText = outcome.Reply?.Text;
            record.Reason = outcome.Reason;
            record.ClaimId = null;
            record.DueAt = null;

            switch (outcome.Kind)
            {
                case RecipientOutcomeKind.Delivered:
                    record.State = DeliveryState.Delivered;
                    break;
                case RecipientOutcomeKind.Bounced:
                    record.State = DeliveryState.Bounced;
                    break;
                case RecipientOutcomeKind.Failed:
                    record.State = DeliveryState.Failed;
                    record.FailedAs = outcome.FailedAs ?? FailureKind.Unsupported;
                    break;
                case RecipientOutcomeKind.Suppressed:
                    // Nothing was sent: no relay, and the event carries the suppression's reason.
                    record.State = DeliveryState.Suppressed;
                    record.Relay = null;
                    break;
                default:
                    if (now >= record.ExpiresAt)
                    {
                        record.State = DeliveryState.Failed;
                        record.FailedAs = FailureKind.Expired;
                        record.Reason = email.ExpiresAt is { } deadline
                            ? $"Expired: still not delivered after {record.Attempt} attempt(s) when the email's expires_at ({deadline:O}) passed. Last attempt: {outcome.Reason}"
                            : $"Expired: still not delivered after {record.Attempt} attempt(s) over {settings.MaxRetryAge:c} (Delivery:MaxRetryAge). Last attempt: {outcome.Reason}";
                    }
                    else
                    {
                        // The last attempt happens at the deadline, so the full window is used.
                        var next = outcome.RetryAtOnce ? now : now + settings.RetryDelayAfter(record.Attempt);
                        record.State = DeliveryState.Deferred;
                        record.DueAt = next < record.ExpiresAt ? next : record.ExpiresAt;
                        deferred = true;
                    }

                    break;
            }

            record.OutcomeEventId = NewId.NextGuid();
            record.OutcomeAt = now;
            Touch(record, now);
            result.Add(record);
        }

        var pause = FirstRecordPause;
        for (var tries = 1; ; tries++)
        {
            try
            {
                await SaveRecordedAsync(email, claim, now);
                break;
            }
            catch (Exception ex) when (StoreErrors.IsUnavailable(ex) && claimedUntil is not null && Now + pause < claimedUntil())
            {
                Log.RecordRetried(logger, ex, email.EmailId, tries, pause);
                await Task.Delay(pause, time);
                pause = pause * 2 < LongestRecordPause ? pause * 2 : LongestRecordPause;
            }
        }

        if (deferred)
        {
            signal.Notify();
        }

        return result;
    }

    /// <summary>Settles the email's kept command and writes the recorded outcomes; tried again as a whole after a store error.</summary>
    private async Task SaveRecordedAsync(SendEmail email, Claim claim, DateTime now)
    {
        // A fresh claim's records are all tracked here and no command of it was kept: no store round trip needed to
        // settle it on the usual path (every recipient final, none failed). Two of the five per delivered message.
        if (claim.Fresh)
        {
            await SettleCommandAsync(email, now, CancellationToken.None, db.Deliveries.Local.Where(d => d.EmailId == email.EmailId).ToList(), mayBeStored: false);
        }
        else
        {
            await SettleCommandAsync(email, now, CancellationToken.None);
        }

        await SaveOutcomeAsync();
    }

    /// <summary>
    /// Hands a claim back without an outcome (shutdown, or an unexpected error before the relay answered): the
    /// redelivered command, or else the scheduler after <c>Delivery:RequeueAfter</c>, sends it.
    /// </summary>
    public async Task ReleaseAsync(SendEmail email, Claim claim)
    {
        var now = Now;
        foreach (var record in claim.ToSend.Where(r => r.ClaimId == claim.ClaimId))
        {
            record.State = DeliveryState.Queued;
            record.ClaimId = null;
            record.DueAt = now + options.Value.RequeueAfter;
            Touch(record, now);
        }

        await KeepCommandAsync(email, now, CancellationToken.None);
        await SaveAsync(CancellationToken.None);
    }

    /// <summary>
    /// The command faulted: every recipient without an outcome (and not being sent by another worker right now)
    /// fails with <paramref name="reason"/>. Returns those (<c>Failed</c>, recorded by this call: to count and publish)
    /// and the ones whose outcome was recorded already (<c>Recorded</c>: final, a redelivered fault's; or deferred,
    /// waiting for the scheduler, which the fault may be the failed publish of: to publish again only).
    /// </summary>
    public async Task<(IReadOnlyList<DeliveryRecord> Failed, IReadOnlyList<DeliveryRecord> Recorded)> FailUnfinishedAsync(
        SendEmail email, IReadOnlyList<string> recipients, string reason, string failedAs, CancellationToken cancellationToken)
    {
        var now = Now;
        var existing = await db.Deliveries.Where(d => d.EmailId == email.EmailId).ToListAsync(cancellationToken);
        var result = new List<DeliveryRecord>();
        var recorded = new List<DeliveryRecord>();
        foreach (var recipient in recipients)
        {
            var record = existing.Find(d => d.Recipient == recipient);
            if (record is null)
            {
                record = new DeliveryRecord
                {
                    EmailId = email.EmailId, Recipient = recipient, FirstAttemptAt = now, ExpiresAt = now, Attempt = 1,
                };
                db.Deliveries.Add(record);
            }
            else if (record.State.IsFinal() || (record.State == DeliveryState.Deferred && record.DueAt > now))
            {
                // Final, or waiting for its next attempt, as ClaimAsync tells them (an operator's retry makes a failed
                // recipient deferred and due at once, with its failure's event id: not a deferral to publish).
                recorded.Add(record);
                continue;
            }
            else if (record.State == DeliveryState.Deferred || (record.State == DeliveryState.Sending && record.DueAt > now))
            {
                // Still in someone's hands (the scheduler's, or a live claim): they will record its outcome.
                continue;
            }

            Fail(record, failedAs, now, reason);
            result.Add(record);
        }

        // A malformed command fails the same way however often it is retried: nothing to keep for that.
        if (failedAs == FailureKind.Rejected)
        {
            await ForgetCommandAsync(email.EmailId, cancellationToken);
        }
        else
        {
            await SettleCommandAsync(email, now, cancellationToken, existing);
        }

        await SaveAsync(cancellationToken);
        return (result, recorded);
    }

    public static SendEmail? ReadCommand(RetryMessage message) => JsonSerializer.Deserialize<SendEmail>(message.Command, StoredJson.Options);

    /// <summary>
    /// The command as kept for the scheduler (see <see cref="RetryMessage"/>), with the trace its hand-backs are to join:
    /// <paramref name="traceParent"/>, the attempt's own (the consume of the command, in the email's trace).
    /// </summary>
    internal static RetryMessage Kept(SendEmail email, DateTime now, string? traceParent) =>
        new() { EmailId = email.EmailId, Command = JsonSerializer.Serialize(email, StoredJson.Options), CreatedAt = now, TraceParent = traceParent };

    /// <summary>Fails a recipient as expired (no attempt may start any more), for publishing.</summary>
    internal static void Expire(DeliveryRecord record, DateTime now, string reason) => Fail(record, FailureKind.Expired, now, reason);

    /// <summary>Fails a recipient for good (<paramref name="failedAs"/>: a <see cref="FailureKind"/>), for publishing.</summary>
    private static void Fail(DeliveryRecord record, string failedAs, DateTime now, string reason)
    {
        record.State = DeliveryState.Failed;
        record.FailedAs = failedAs;
        record.Attempt = Math.Max(record.Attempt, 1);
        record.Reason = reason;
        record.ClaimId = null;
        record.DueAt = null;
        record.OutcomeEventId = NewId.NextGuid();
        record.OutcomeAt = now;
        Touch(record, now);
    }

    private async Task KeepCommandAsync(SendEmail email, DateTime now, CancellationToken cancellationToken)
    {
        var stored = db.RetryMessages.Local.FirstOrDefault(m => m.EmailId == email.EmailId)
            ?? await db.RetryMessages.FindAsync([email.EmailId], cancellationToken);
        var traceParent = Activity.Current is { IdFormat: ActivityIdFormat.W3C } current ? current.Id : null;
        if (stored is null)
        {
            db.RetryMessages.Add(Kept(email, now, traceParent));
        }
        else
        {
            stored.KeepUntil = null;
            // Kept before its trace was stored with it: its later hand-backs join this attempt's trace, at least.
            stored.TraceParent ??= traceParent;
        }
    }

    /// <summary>
    /// Decides what becomes of the email's stored command once recipients changed: kept while any recipient is not
    /// final; kept for <c>Delivery:FailedContentRetention</c> when all are final and some failed (a bulk retry may send
    /// them again); deleted otherwise.
    /// </summary>
    private async Task SettleCommandAsync(
        SendEmail email, DateTime now, CancellationToken cancellationToken, List<DeliveryRecord>? loaded = null, bool mayBeStored = true)
    {
        var records = loaded ?? await db.Deliveries.Where(d => d.EmailId == email.EmailId).ToListAsync(cancellationToken);
        foreach (var added in db.Deliveries.Local.Where(d => d.EmailId == email.EmailId && !records.Contains(d)))
        {
            records.Add(added);
        }

        if (records.Any(r => !r.State.IsFinal()))
        {
            await KeepCommandAsync(email, now, cancellationToken);
        }
        else if (records.Any(r => r.State == DeliveryState.Failed))
        {
            await KeepCommandAsync(email, now, cancellationToken);
            var stored = db.RetryMessages.Local.First(m => m.EmailId == email.EmailId);
            stored.KeepUntil = now + options.Value.FailedContentRetention;
        }
        else if (mayBeStored)
        {
            await ForgetCommandAsync(email.EmailId, cancellationToken);
        }
    }

    private async Task ForgetCommandAsync(Guid emailId, CancellationToken cancellationToken)
    {
        var stored = await db.RetryMessages.FindAsync([emailId], cancellationToken);
        if (stored is not null)
        {
            db.RetryMessages.Remove(stored);
        }
    }

    private async Task SaveAsync(CancellationToken cancellationToken)
    {
        try
        {
            for (var attempt = 1; ; attempt++)
            {
                DbUpdateException conflict;
                try
                {
                    await db.SaveChangesAsync(cancellationToken);
                    return;
                }
                catch (DbUpdateException ex) when (attempt < MaxSaveAttempts && IsAboutTheKeptCommand(ex))
                {
                    conflict = ex;
                }

                // Nothing was written (one transaction): the same changes again, the kept command's part adjusted.
                await ReconcileKeptCommandAsync(conflict, cancellationToken);
            }
        }
        catch (DbUpdateException ex) when (!StoreErrors.IsUnavailable(ex))
        {
            // Another worker got there first (a concurrent claim): the consumer's retry starts again from the store.
            // (An unreachable store leaves the changes tracked, so that an outcome's record can be tried again.)
            db.ChangeTracker.Clear();
            throw;
        }
    }

    /// <summary>
    /// Whether a save failed only because another worker wrote the email's kept command between this one's look and its
    /// write: it stored the command this one was adding (a concurrent duplicate of the command, finding this worker's live
    /// claim, keeps it; so does every claim or record that leaves a recipient unfinished), or deleted the one this one
    /// was changing (its record made every recipient final). Without <see cref="ReconcileKeptCommandAsync"/> the whole
    /// save failed, and a recorded 250 in it was lost: the recipient would be sent again once the claim lapsed.
    /// </summary>
    private static bool IsAboutTheKeptCommand(DbUpdateException exception) => exception switch
    {
        DbUpdateConcurrencyException concurrency => concurrency.Entries.Count > 0 && concurrency.Entries.All(e => e.Entity is RetryMessage),
        _ => StoreErrors.IsUniqueViolation(exception) && exception.InnerException switch
        {
            PostgresException postgres => postgres.TableName == RetryMessagesTable,
            SqliteException sqlite => sqlite.Message.Contains(RetryMessagesTable + ".", StringComparison.Ordinal),
            _ => false,
        },
    };

    /// <summary>
    /// Turns this context's write of the kept command into what the store now needs. A command stored meanwhile is the
    /// same command: it is updated instead of inserted, with this context's <see cref="RetryMessage.KeepUntil"/> when this
    /// context decided it (it settled every recipient, or it holds an unfinished one) and left as it is otherwise (a
    /// duplicate that found the recipients claimed elsewhere only wanted it kept, and it is). A command deleted meanwhile
    /// is inserted again if this context changes it, and forgotten if this context deletes it too.
    /// </summary>
    private async Task ReconcileKeptCommandAsync(DbUpdateException conflict, CancellationToken cancellationToken)
    {
        if (conflict is DbUpdateConcurrencyException concurrency)
        {
            foreach (var gone in concurrency.Entries)
            {
                gone.State = gone.State == EntityState.Deleted ? EntityState.Detached : EntityState.Added;
            }

            return;
        }

        var added = db.ChangeTracker.Entries<RetryMessage>().Single(e => e.State == EntityState.Added);
        var mine = added.Entity;
        var stored = await db.RetryMessages.AsNoTracking().FirstOrDefaultAsync(m => m.EmailId == mine.EmailId, cancellationToken);
        if (stored is null)
        {
            // Deleted again since: inserted as planned.
            return;
        }

        added.State = EntityState.Detached;
        var entry = db.RetryMessages.Attach(stored);
        var decides = mine.KeepUntil is not null || db.ChangeTracker.Entries<DeliveryRecord>()
            .Any(e => e.Entity.EmailId == mine.EmailId && e.State != EntityState.Unchanged && !e.Entity.State.IsFinal());
        if (decides)
        {
            // Written even when unchanged: should the row be deleted before this save, the update finds nothing and the
            // command is inserted again (above) instead of silently not being kept.
            var keepUntil = entry.Property(m => m.KeepUntil);
            keepUntil.CurrentValue = mine.KeepUntil;
            keepUntil.IsModified = true;
        }
    }

    private static void Touch(DeliveryRecord record, DateTime now)
    {
        record.UpdatedAt = now;
        record.Version++;
    }

    private DateTime Now => time.GetUtcNow().UtcDateTime;
}
