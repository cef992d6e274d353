using EmailPlatform.Contracts;
using EmailPlatform.ServiceDefaults.Addresses;
using EmailPlatform.Status.Bounces;
using EmailPlatform.Status.Complaints;
using EmailPlatform.Status.Retention;
using EmailPlatform.Status.Storage;
using EmailPlatform.Status.Suppressions;
using EmailPlatform.Status.Webhooks;
using Microsoft.EntityFrameworkCore;
using MimeKit;

namespace EmailPlatform.Status.Recording;

/// <summary>
/// Records a batch of events in one transaction, each exactly once (by event id), tolerating any order: an outcome
/// may come before the email's details, and a late or redelivered event never moves a recipient backwards — a final
/// state is final, and within the same attempt a state only advances. The batch reads what it needs in a few
/// set-based queries (the emails with their recipients, which of its event ids are already stored), applies the
/// events in memory in the order they came, and writes everything, webhook deliveries and suppressions included, in
/// one transaction. On PostgreSQL the batch first locks its emails' rows in id order, so replicas writing events of
/// the same email wait for each other instead of overwriting, and the rows go out set-based
/// (<see cref="PostgresBulkWrite"/>); two replicas creating the same new email meet on its key and the loser is
/// recorded again, and a batch that reads an email created after its lock (so not locked) starts again. On SQLite (the single-process host, one writer) <c>SaveChanges</c> writes them, the versions checked.
/// </summary>
public sealed class StatusRecorder(StatusDbContext db, TimeProvider clock, WebhookOutbox webhooks, AutoSuppression suppressions)
{
    private readonly StatusDbContext _db = db;
    private readonly WebhookOutbox _webhooks = webhooks;
    private readonly AutoSuppression _suppressions = suppressions;

    /// <summary>Records one event on its own (tests, tools).</summary>
    public Task<IReadOnlyList<string>> RecordAsync(object message, CancellationToken cancellationToken) =>
        RecordAsync([new StatusEvent(message)], cancellationToken);

    /// <returns>The types of the events newly recorded (not those already there).</returns>
    public async Task<IReadOnlyList<string>> RecordAsync(IReadOnlyList<StatusEvent> batch, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await RecordBatchAsync(batch, cancellationToken);
            }
            catch (Exception ex)
            {
                // Forget what this attempt tracked, so a retry on this context starts again from what is stored.
                _db.ChangeTracker.Clear();
                if (ex is not EmailCreatedMeanwhileException || attempt == MaxAttempts)
                {
                    throw;
                }
            }
        }
    }

    /// <summary>Attempts at a batch that keeps finding emails created after its lock (each needs another writer's commit in that gap).</summary>
    private const int MaxAttempts = 5;

    private async Task<IReadOnlyList<string>> RecordBatchAsync(IReadOnlyList<StatusEvent> batch, CancellationToken cancellationToken)
    {
        var emailIds = batch.Select(e => e.EmailId).Distinct().Order().ToArray();
        var eventIds = batch.Select(e => e.EventId).Distinct().ToArray();
        await using var transaction = await _db.Database.BeginTransactionAsync(cancellationToken);
        if (_db.Database.IsNpgsql())
        {
            await RecorderBatches.EnterAsync(_db, cancellationToken);
        }

        var locked = _db.Database.IsNpgsql()
            ? await _db.Database.SqlQuery<Guid>($"SELECT id AS \"Value\" FROM emails WHERE id = ANY({emailIds}) ORDER BY id FOR UPDATE")
                .ToListAsync(cancellationToken)
            : null;
        // Without their bodies: no event changes them but the accept that brings them, which sets them on an email read
        // without them (a stub, made by events that came before) or on a new one.
        var emails = await _db.EmailsWithoutBodies.Include(e => e.Recipients).Where(e => emailIds.Contains(e.Id))
            .ToDictionaryAsync(e => e.Id, cancellationToken);
        if (locked is not null && emails.Count > locked.Count)
        {
            // An email created by another writer between the lock and the read: read unlocked, it could be changed
            // under this batch and overwritten with a stale copy. Start again; the email is there to lock now.
            throw new EmailCreatedMeanwhileException();
        }

        var unit = new Unit(
            this,
            emails,
            [.. await _db.Events.Where(e => eventIds.Contains(e.Id)).Select(e => e.Id).ToListAsync(cancellationToken)],
            await LifecycleOfAcceptedAsync(batch, cancellationToken),
            await LatestReschedulesAsync(batch, cancellationToken),
            await ErasuresAsync(batch, emails, cancellationToken));
        await _suppressions.PrepareAsync(
            batch.Select(e => e.Message switch
            {
                EmailBounced or ReportedBounce => ((IRecipientOutcome)e.Message).Recipient,
                ReportedComplaint c => c.Recipient,
                _ => null,
            }).OfType<string>().Select(AddressKeys.Of),
            cancellationToken);

        foreach (var @event in batch)
        {
            await unit.ApplyAsync(@event, cancellationToken);
        }

        if (unit.Recorded.Count == 0)
        {
            return [];
        }

        unit.DeriveStates();
        if (_db.Database.IsNpgsql())
        {
            try
            {
                await PostgresBulkWrite.WriteAsync(_db, cancellationToken);
                await _db.SaveChangesAsync(cancellationToken);
            }
            finally
            {
                _db.ChangeTracker.AutoDetectChangesEnabled = true;
            }
        }
        else
        {
            await _db.SaveChangesAsync(cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
        return unit.Recorded;
    }

    /// <summary>For the batch's accepts: which of their emails already have a queued or canceled event.</summary>
    private async Task<HashSet<(Guid, string)>> LifecycleOfAcceptedAsync(IReadOnlyList<StatusEvent> batch, CancellationToken cancellationToken)
    {
        var accepted = batch.Where(e => e.Message is EmailAccepted).Select(e => e.EmailId).Distinct().ToArray();
        if (accepted.Length == 0)
        {
            return [];
        }

        var found = await _db.Events.Where(e => accepted.Contains(e.EmailId) && (e.Type == EventTypes.Queued || e.Type == EventTypes.Canceled))
            .Select(e => new { e.EmailId, e.Type }).ToListAsync(cancellationToken);
        return [.. found.Select(e => (e.EmailId, e.Type))];
    }

    /// <summary>
    /// The erasures (<see cref="ErasedAddressRecord"/>, by hash) made since the oldest email the batch brings addresses of
    /// was accepted: almost always none, and then no address is hashed. An email whose accept time is unknown (a stub
    /// whose id is not a version 7 one) takes every erasure into account.
    /// </summary>
    private async Task<Dictionary<string, DateTime>> ErasuresAsync(
        IReadOnlyList<StatusEvent> batch, Dictionary<Guid, EmailRecord> emails, CancellationToken cancellationToken)
    {
        DateTime? since = null;
        foreach (var @event in batch)
        {
            if (@event.Message is not (EmailAccepted or IRecipientOutcome or ReportedComplaint { Recipient: not null }))
            {
                continue;
            }

            var acceptedAt = @event.Message is EmailAccepted accepted ? accepted.AcceptedAt.UtcDateTime : AcceptedAt(emails.GetValueOrDefault(@event.EmailId), @event.EmailId);
            since = since is null || acceptedAt < since ? acceptedAt : since;
        }

        return since is not { } from
            ? []
            : await _db.ErasedAddresses.AsNoTracking().Where(e => e.ErasedAt > from).ToDictionaryAsync(e => e.Hash, e => e.ErasedAt, StringComparer.Ordinal, cancellationToken);
    }

    /// <summary>When an email was accepted: as recorded, or as its version 7 id tells, or (neither known) the earliest time.</summary>
    private static DateTime AcceptedAt(EmailRecord? email, Guid emailId) =>
        email?.AcceptedAt ?? EmailIds.MadeAt(emailId)?.UtcDateTime ?? DateTime.MinValue;

    /// <summary>For the batch's reschedules: when each of their emails was last rescheduled, as recorded so far.</summary>
    private async Task<Dictionary<Guid, DateTime>> LatestReschedulesAsync(IReadOnlyList<StatusEvent> batch, CancellationToken cancellationToken)
    {
        var rescheduled = batch.Where(e => e.Message is EmailRescheduled).Select(e => e.EmailId).Distinct().ToArray();
        if (rescheduled.Length == 0)
        {
            return [];
        }

        return await _db.Events.Where(e => rescheduled.Contains(e.EmailId) && e.Type == EventTypes.Scheduled)
            .GroupBy(e => e.EmailId)
            .Select(g => new { EmailId = g.Key, Latest = g.Max(e => e.OccurredAt) })
            .ToDictionaryAsync(g => g.EmailId, g => g.Latest, cancellationToken);
    }

    /// <summary>
    /// Whether an event in <paramref name="state"/> from <paramref name="attempt"/> may replace what the recipient
    /// shows: a final state replaces any pending one, whatever its attempt (a relay's 250 or 5xx is a fact even when
    /// it is reported late); otherwise a later attempt wins, and within one attempt a state only advances. Nothing
    /// replaces a final state, with one exception: <c>failed</c> gives way to a later attempt, since only an operator's
    /// retry (<c>POST /v1/bulk/retry</c>) makes the workers try a failed recipient again, and they number that attempt
    /// after the one that failed. A suppression found by such a retry carries that attempt's number too
    /// (<see cref="EmailSuppressed.Attempt"/>); one published before the field existed carries 0 and leaves <c>failed</c> alone.
    /// And a bounce reported after the relay took the message (<paramref name="reportedBounce"/>, a
    /// <see cref="ReportedBounce"/>) replaces <c>delivered</c>, which only said that the relay took it.
    /// </summary>
    internal static bool Supersedes(RecipientRecord recipient, EmailState state, int attempt, bool reportedBounce = false) =>
        recipient.State.IsTerminal()
            ? (recipient.State == EmailState.Failed && attempt > recipient.Attempt) || (reportedBounce && recipient.State == EmailState.Delivered)
            : state.IsTerminal()
                || attempt > recipient.Attempt
                || (attempt == recipient.Attempt && state.Progress() > recipient.State.Progress());

    /// <summary>An email's state, from its recipients'. Until its details arrive, its full recipient list is unknown: it cannot be final yet.</summary>
    internal static EmailState DerivedState(EmailRecord email)
    {
        var state = EmailStates.Derive(email.Recipients.Select(r => r.State));
        return email.AcceptedAt is null && state.IsTerminal() ? EmailState.Sending : state;
    }

    private DateTime Now => clock.GetUtcNow().UtcDateTime;

    /// <summary>
    /// The address an email is found by with <c>from=</c>: its From's first mailbox (a raw message's From may name several,
    /// RFC 5322 §3.6.2, as its Message-ID's domain is the first's); none when it names no mailbox the column can hold.
    /// </summary>
    private static string? AddressOf(string from) =>
        InternetAddressList.TryParse(from, out var parsed) && parsed.Mailboxes.FirstOrDefault() is { } first
        && AddressKeys.Of(first.Address) is { Length: <= 320 } key
            ? key
            : null;

    /// <summary>One batch: the emails it touches, the event ids already stored, and what it has recorded so far.</summary>
    private sealed class Unit(
        StatusRecorder recorder, Dictionary<Guid, EmailRecord> emails, HashSet<Guid> stored, HashSet<(Guid EmailId, string Type)> lifecycle,
        Dictionary<Guid, DateTime> latestReschedules, Dictionary<string, DateTime> erasures)
    {
        private readonly HashSet<EmailRecord> _touched = [];

        /// <summary>The emails a complaint was recorded for in this batch: it is their latest news, whatever else the batch holds.</summary>
        private readonly HashSet<EmailRecord> _complained = [];

        /// <summary>The <c>traceparent</c> of the event being applied, for the webhook deliveries it adds.</summary>
        private string? _traceParent;

        public List<string> Recorded { get; } = [];

        private StatusDbContext Db => recorder._db;

        public Task ApplyAsync(StatusEvent @event, CancellationToken cancellationToken)
        {
            // Already stored, or twice in this batch: a redelivery changes nothing.
            if (!stored.Add(@event.EventId))
            {
                return Task.CompletedTask;
            }

            _traceParent = @event.TraceParent;
            return @event.Message switch
            {
                EmailAccepted m => AcceptedAsync(m, @event.TraceId, cancellationToken),
                // A scheduled email's, recorded after every recipient went further (an outcome that overtook it), sends no
                // webhook either. An email sent at once has its email.queued with its accept, whenever that is recorded.
                EmailQueued m => LifecycleAsync(m.EventId, m.EmailId, EventTypes.Queued, m.Timestamp, null, email =>
                {
                    foreach (var recipient in email.Recipients.Where(r => r.State == EmailState.Scheduled))
                    {
                        Move(recipient, EmailState.Queued);
                    }

                    return email.AcceptedAt is null || email.ScheduledAt is null
                        || email.Recipients.Exists(r => r.State.Progress() <= EmailState.Queued.Progress());
                }, cancellationToken),
                // Two reschedules may be recorded in either order (replicas, concurrent consumes): the later one wins, and
                // the earlier, on the timeline all the same, sends no webhook, which would tell of a time no longer kept.
                EmailRescheduled m => LifecycleAsync(m.EventId, m.EmailId, EventTypes.Scheduled, m.Timestamp, m.ScheduledAt, email =>
                {
                    var at = m.Timestamp.UtcDateTime;
                    if (latestReschedules.TryGetValue(email.Id, out var latest) && at < latest)
                    {
                        return false;
                    }

                    email.ScheduledAt = m.ScheduledAt.UtcDateTime;
                    latestReschedules[email.Id] = at;
                    return true;
                }, cancellationToken),
                // Canceled before it was sent: every recipient not already final is canceled.
                EmailCanceled m => LifecycleAsync(m.EventId, m.EmailId, EventTypes.Canceled, m.Timestamp, null, email =>
                {
                    foreach (var recipient in email.Recipients.Where(r => !r.State.IsTerminal()))
                    {
                        Move(recipient, EmailState.Canceled);
                    }

                    return true;
                }, cancellationToken),
                EmailDelivered m => OutcomeAsync(m, EmailState.Delivered, null, null, cancellationToken),
                EmailDeferred m => OutcomeAsync(m, EmailState.Deferred, m.Reason, m.NextAttemptAt, cancellationToken),
                EmailBounced m => OutcomeAsync(m, EmailState.Bounced, null, null, cancellationToken),
                ReportedBounce m => OutcomeAsync(m, EmailState.Bounced, ReportedReason(m), null, cancellationToken),
                EmailFailed m => OutcomeAsync(m, EmailState.Failed, m.Reason, null, cancellationToken),
                EmailSuppressed m => OutcomeAsync(m, EmailState.Suppressed, m.Reason, null, cancellationToken),
                ReportedComplaint m => ComplaintAsync(m, cancellationToken),
                _ => throw new ArgumentException($"{@event.Message.GetType().Name} is not an event the status service records."),
            };
        }

        /// <summary>The email's details; its recipients start <c>scheduled</c> or <c>queued</c>.</summary>
        private async Task AcceptedAsync(EmailAccepted accepted, string? traceId, CancellationToken cancellationToken)
        {
            var recordedBefore = emails.ContainsKey(accepted.EmailId); // a stub, made by events that came before these details
            var email = EmailFor(accepted.EmailId);
            if (email.AcceptedAt is not null)
            {
                // Already known: a copy published again under another event id changes nothing.
                return;
            }

            // Each To, Cc, Bcc and Reply-To entry parsed once, for the recipients and the header address rows alike.
            var named = HeaderAddresses.Parse(accepted.To, accepted.Cc, accepted.Bcc, accepted.ReplyTo);

            // An address erased while the email was in flight (its outcome recorded before these details): the erasure
            // stands, and the details arrive with the address already replaced by its placeholder and without the bodies.
            var erasedHere = ErasedAddresses(email, accepted, named);

            email.MessageId = accepted.MessageId;
            email.From = accepted.From;
            email.FromAddress = AddressOf(accepted.From);
            email.To = Erase(accepted.To);
            email.Cc = Erase(accepted.Cc);
            email.Bcc = Erase(accepted.Bcc);
            email.ReplyTo = Erase(accepted.ReplyTo);
            email.Subject = accepted.Subject;
            email.Html = erasedHere.Count == 0 ? accepted.Html : null;
            email.Text = erasedHere.Count == 0 ? accepted.Text : null;
            email.AttachmentNames = [.. accepted.AttachmentNames];
            email.Tags = [.. accepted.Tags];
            email.Metadata = new Dictionary<string, string>(accepted.Metadata);
            email.Priority = accepted.Priority;
            email.AcceptedAt = accepted.AcceptedAt.UtcDateTime;
            // A reschedule recorded before these details keeps its time; the accept's own email.scheduled, with the time
            // the email was first given, then sends no webhook after the reschedule's.
            var rescheduledBefore = accepted.ScheduledAt is not null && email.ScheduledAt is not null;
            email.ScheduledAt ??= accepted.ScheduledAt?.UtcDateTime;
            email.TraceId ??= traceId;
            foreach (var (address, placeholder) in erasedHere)
            {
                // The subject and the metadata values may quote it too: they are recorded without it, searchable as such.
                new ErasedText(AddressKeys.StoredForms(address), placeholder).EraseFrom(email);
            }

            // A scheduled email waits as 'scheduled' unless its EmailQueued got here first; a cancel that overtook the
            // accept (they travel on different queues) still wins.
            var initial = lifecycle.Contains((email.Id, EventTypes.Canceled)) ? EmailState.Canceled
                : accepted.ScheduledAt is not null && !lifecycle.Contains((email.Id, EventTypes.Queued)) ? EmailState.Scheduled
                : EmailState.Queued;
            foreach (var (address, kind) in accepted.RecipientsByField(named.Of))
            {
                var recipient = FindOrAddRecipient(email, erasedHere.GetValueOrDefault(AddressKeys.Of(address), address), initial);
                recipient.Kind ??= kind;
            }

            // The addresses the stored headers name: an erased one is its placeholder there, as it is among the recipients.
            var headerAddresses = named.All.Select(AddressKeys.Of);
            foreach (var address in HeaderAddresses.NotRecipients(
                erasedHere.Count == 0 ? headerAddresses : headerAddresses.Select(a => erasedHere.GetValueOrDefault(a, a)), email.Recipients.Select(r => r.Address)))
            {
                Db.HeaderAddresses.Add(new HeaderAddressRecord { EmailId = email.Id, Address = address });
            }

            email.HeaderAddressesRecorded = true;

            foreach (var tag in accepted.Tags.DistinctBy(t => (t.Name, t.Value)))
            {
                Db.EmailLabels.Add(new EmailLabelRecord { EmailId = email.Id, Kind = EmailLabelRecord.TagKind, Name = tag.Name, Value = tag.Value });
            }

            Db.EmailLabels.AddRange(EmailLabelRecord.MetadataOf(email.Id, email.Metadata));

            if (recordedBefore)
            {
                await recorder._webhooks.CompleteAsync(email, cancellationToken);
            }

            await AddEventAsync(email, NewEvent(email.Id, accepted.EventId, accepted.ScheduledAt is null ? EventTypes.Accepted : EventTypes.Scheduled,
                accepted.Timestamp, accepted.ScheduledAt), cancellationToken, webhook: !rescheduledBefore);

            List<string> Erase(IReadOnlyList<string> entries) =>
                erasedHere.Count == 0 ? [.. entries] : ErasedHeaders.Replace(entries, erasedHere.GetValueOrDefault);
        }

        /// <summary>
        /// The addresses of an accept that were erased before it arrived, with their placeholders: from its email (an
        /// outcome recorded before these details, then the erasure), or erased after the email was accepted.
        /// </summary>
        private Dictionary<string, string> ErasedAddresses(EmailRecord email, EmailAccepted accepted, HeaderAddresses named)
        {
            var erased = new Dictionary<string, string>(StringComparer.Ordinal);
            var placeholders = email.Recipients.Exists(r => RecipientErasure.IsPlaceholder(r.Address));
            if (!placeholders && erasures.Count == 0)
            {
                return erased;
            }

            foreach (var address in named.All.Concat(accepted.Recipients ?? []).Select(AddressKeys.Of))
            {
                var placeholder = RecipientErasure.PlaceholderFor(address);
                // An erased address already among the recipients (recorded by an outcome before an erasure that failed part
                // way) stays as it is, its placeholder not added beside it: the same erasure made again erases it.
                if ((placeholders && email.Recipients.Exists(r => r.Address == placeholder))
                    || (ErasedSince(address, accepted.AcceptedAt.UtcDateTime) && !email.Recipients.Exists(r => r.Address == address)))
                {
                    erased[address] = placeholder;
                }
            }

            return erased;
        }

        /// <summary>Whether the address (a key) was erased after <paramref name="acceptedAt"/>, while its email was on its way.</summary>
        private bool ErasedSince(string key, DateTime acceptedAt) =>
            erasures.Count > 0 && erasures.TryGetValue(RecipientErasure.HashOf(key), out var erasedAt) && acceptedAt < erasedAt;

        private async Task LifecycleAsync(
            Guid eventId, Guid emailId, string type, DateTimeOffset timestamp, DateTimeOffset? scheduledAt,
            Func<EmailRecord, bool> apply, CancellationToken cancellationToken)
        {
            var email = EmailFor(emailId);
            var applied = apply(email);
            lifecycle.Add((emailId, type));
            await AddEventAsync(email, NewEvent(emailId, eventId, type, timestamp, scheduledAt), cancellationToken, webhook: applied);
        }

        private async Task OutcomeAsync(IRecipientOutcome outcome, EmailState state, string? reason, DateTimeOffset? nextAttemptAt, CancellationToken cancellationToken)
        {
            var email = EmailFor(outcome.EmailId);
            var erased = FindErased(email, outcome.Recipient);
            var recipient = erased ?? FindOrAddRecipient(email, outcome.Recipient);
            var smtpText = erased is null ? outcome.Reply?.Text : null;
            var reported = outcome as ReportedBounce;
            var enhancedCode = outcome.Reply?.EnhancedCode ?? reported?.Status;
            if (erased is not null)
            {
                // The reason may quote the address (a suppression's, from the relay's text of the bounce that caused it).
                reason = new ErasedText(AddressKeys.StoredForms(AddressKeys.Of(outcome.Recipient)), erased.Address).Replace(reason);
            }

            // A reported bounce belongs to no attempt of ours: it is the outcome of the latest, as far as it is known here.
            var attempt = reported is null ? outcome.Attempt : recipient.Attempt;
            var supersedes = Supersedes(recipient, state, attempt, reportedBounce: reported is not null);
            if (supersedes)
            {
                recipient.State = state;
                // A final state reported late by an earlier attempt replaces a pending one, but the attempts made stay made.
                recipient.Attempt = Math.Max(recipient.Attempt, attempt);
                recipient.SmtpCode = outcome.Reply?.Code;
                recipient.EnhancedCode = enhancedCode;
                recipient.SmtpText = smtpText;
                recipient.Reason = reason;
                recipient.NextAttemptAt = state == EmailState.Deferred ? nextAttemptAt?.UtcDateTime : null;
                recipient.UpdatedAt = recorder.Now;
                recipient.Version++;
            }

            var @event = new EventRecord
            {
                Id = outcome.EventId,
                EmailId = outcome.EmailId,
                Type = EventTypes.For(state),
                Recipient = recipient.Address,
                OccurredAt = outcome.Timestamp.UtcDateTime,
                Relay = outcome.Relay,
                Attempt = attempt,
                SmtpCode = outcome.Reply?.Code,
                EnhancedCode = enhancedCode,
                SmtpText = smtpText,
                Reason = reason,
                NextAttemptAt = nextAttemptAt?.UtcDateTime,
                RecordedAt = recorder.Now,
            };

            // An outcome that came too late to change what the recipient shows (a deferral of the attempt that then
            // delivered, recorded after the delivery) is on the timeline, but sends no webhook: a receiver that keeps the
            // latest webhook as the status would go back to deferred, with a retry that will never come.
            await AddEventAsync(email, @event, cancellationToken, webhook: supersedes);
            if (state == EmailState.Bounced && erased is null)
            {
                recorder._suppressions.OnBounce(@event);
            }
        }

        /// <summary>
        /// A complaint: an event on the timeline (the recipient's, when the report says who complained), the recipient's
        /// state untouched, and a suppression of the address unless it was erased.
        /// </summary>
        private async Task ComplaintAsync(ReportedComplaint complaint, CancellationToken cancellationToken)
        {
            var email = EmailFor(complaint.EmailId);
            var erased = complaint.Recipient is null ? null : FindErased(email, complaint.Recipient);
            var recipient = complaint.Recipient is null ? null : erased ?? FindOrAddRecipient(email, complaint.Recipient);
            var @event = new EventRecord
            {
                Id = complaint.EventId,
                EmailId = complaint.EmailId,
                Type = EventTypes.Complained,
                Recipient = recipient?.Address,
                OccurredAt = complaint.Timestamp.UtcDateTime,
                Relay = complaint.ReportingMta,
                Attempt = recipient?.Attempt ?? 0,
                Reason = $"Complaint ({complaint.FeedbackType}) reported by {complaint.Reporter}",
                RecordedAt = recorder.Now,
            };
            await AddEventAsync(email, @event, cancellationToken);
            _complained.Add(email);
            if (recipient is not null && erased is null)
            {
                recorder._suppressions.OnComplaint(@event);
            }
        }

        /// <summary>
        /// Who reported a bounce and, when it quoted no SMTP reply (a DNS failure, a loop: no <c>smtp</c> field then), its
        /// status code and diagnostic, which then are all there is to read.
        /// </summary>
        private static string ReportedReason(ReportedBounce bounce)
        {
            var from = $"Bounce reported by {bounce.ReportingMta ?? "an MTA that did not name itself"} after the relay accepted the message";
            return bounce.Reply is null ? $"{from}: {bounce.Status} {bounce.Diagnostic}".TrimEnd() : from;
        }

        /// <summary>
        /// Each touched email's state, derived from its recipients once per batch, and its version; whether a complaint is
        /// still its latest news (<see cref="EmailRecord.LastEventIsComplaint"/>): yes after one, no once its state moves on.
        /// </summary>
        public void DeriveStates()
        {
            var now = recorder.Now;
            foreach (var email in _touched)
            {
                var state = DerivedState(email);
                if (_complained.Contains(email) || state != email.State)
                {
                    email.LastEventIsComplaint = _complained.Contains(email);
                }

                email.State = state;
                email.UpdatedAt = now;
                email.Version++;
            }
        }

        private EventRecord NewEvent(Guid emailId, Guid eventId, string type, DateTimeOffset timestamp, DateTimeOffset? scheduledAt) => new()
        {
            Id = eventId,
            EmailId = emailId,
            Type = type,
            OccurredAt = timestamp.UtcDateTime,
            NextAttemptAt = scheduledAt?.UtcDateTime,
            RecordedAt = recorder.Now,
        };

        /// <summary>The timeline entry and, in the same unit of work, its webhook deliveries.</summary>
        /// <param name="webhook">Whether the event goes to the webhook subscriptions: not when it changed nothing the
        /// email or its recipient shows, having come after what superseded it.</param>
        private async Task AddEventAsync(EmailRecord email, EventRecord @event, CancellationToken cancellationToken, bool webhook = true)
        {
            @event.Withheld = !webhook;
            Db.Events.Add(@event);
            Recorded.Add(@event.Type);
            _touched.Add(email);
            if (webhook)
            {
                await recorder._webhooks.AddAsync(@event, email.AcceptedAt is null ? null : email, _traceParent, cancellationToken);
            }
        }

        private void Move(RecipientRecord recipient, EmailState state)
        {
            recipient.State = state;
            recipient.UpdatedAt = recorder.Now;
            recipient.Version++;
        }

        private EmailRecord EmailFor(Guid emailId)
        {
            if (!emails.TryGetValue(emailId, out var email))
            {
                email = new EmailRecord { Id = emailId };
                Db.Emails.Add(email);
                emails[emailId] = email;
            }

            return email;
        }

        /// <summary>
        /// The placeholder of a recipient erased while the email was in flight (<see cref="RecipientErasure"/>), when an
        /// outcome for the address arrives later: the address is no longer among its recipients, but its placeholder is;
        /// or, erased after the email was accepted and before any of it was recorded here, the address was never among
        /// them, and the placeholder is added in its place. The email's details need not be known: outcomes can come
        /// before them, and the erasure in between.
        /// </summary>
        private RecipientRecord? FindErased(EmailRecord email, string address)
        {
            var key = AddressKeys.Of(address);
            if (email.Recipients.Exists(r => r.Address == key)
                || (erasures.Count == 0 && !email.Recipients.Exists(r => RecipientErasure.IsPlaceholder(r.Address))))
            {
                return null;
            }

            var placeholder = RecipientErasure.PlaceholderFor(key);
            return email.Recipients.Find(r => r.Address == placeholder)
                ?? (ErasedSince(key, AcceptedAt(email, email.Id)) ? FindOrAddRecipient(email, placeholder) : null);
        }

        private static RecipientRecord FindOrAddRecipient(EmailRecord email, string address, EmailState initial = EmailState.Queued)
        {
            var key = AddressKeys.Of(address);
            var recipient = email.Recipients.Find(r => r.Address == key);
            if (recipient is null)
            {
                recipient = new RecipientRecord { EmailId = email.Id, Address = key, State = initial };
                email.Recipients.Add(recipient);
            }

            return recipient;
        }
    }
}

/// <summary>A batch found an email that did not exist when it took its locks; it is recorded again from the start.</summary>
internal sealed class EmailCreatedMeanwhileException() : Exception("An email was created by another writer after this batch took its locks.");

