using EmailPlatform.Contracts;
using EmailPlatform.Status.Storage;
using EmailPlatform.Status.Suppressions;
using EmailPlatform.Status.Webhooks;
using Microsoft.EntityFrameworkCore;
using MimeKit;

namespace EmailPlatform.Status.Recording;

/// <summary>
/// Records events into the store exactly once (by event id) and tolerates any order: an outcome may come
/// before the email's details, and a late or redelivered event never moves a recipient backwards — a
/// final state is final, and within the same attempt a state only advances. Concurrent writers for one
/// email meet optimistic concurrency and the loser is retried by the consumer's retry policy.
/// </summary>
public sealed class StatusRecorder(StatusDbContext db, TimeProvider clock, WebhookOutbox webhooks, AutoSuppression suppressions)
{
    /// <summary>The email's details; its recipients start <c>scheduled</c> or <c>queued</c>.</summary>
    public async Task RecordAcceptedAsync(EmailAccepted accepted, CancellationToken cancellationToken)
    {
        if (await AlreadyRecordedAsync(accepted.EventId, cancellationToken))
        {
            return;
        }

        var email = await LoadOrAddAsync(accepted.EmailId, cancellationToken);
        if (email.AcceptedAt is not null)
        {
            // Already known: a copy published again under another event id changes nothing.
            return;
        }

        email.MessageId = accepted.MessageId;
        email.From = accepted.From;
        email.FromAddress = AddressOf(accepted.From).ToLowerInvariant();
        email.To = [.. accepted.To];
        email.Cc = [.. accepted.Cc];
        email.Bcc = [.. accepted.Bcc];
        email.ReplyTo = [.. accepted.ReplyTo];
        email.Subject = accepted.Subject;
        email.Html = accepted.Html;
        email.Text = accepted.Text;
        email.AttachmentNames = [.. accepted.AttachmentNames];
        email.Tags = [.. accepted.Tags];
        email.Metadata = new Dictionary<string, string>(accepted.Metadata);
        email.Priority = accepted.Priority;
        email.AcceptedAt = accepted.AcceptedAt.UtcDateTime;
        email.ScheduledAt ??= accepted.ScheduledAt?.UtcDateTime;

        // A scheduled email waits as 'scheduled' unless its EmailQueued got here first; a cancel that overtook the
        // accept (they travel on different queues) still wins.
        var earlier = await db.Events.Where(e => e.EmailId == accepted.EmailId && (e.Type == EventTypes.Queued || e.Type == EventTypes.Canceled))
            .Select(e => e.Type).ToListAsync(cancellationToken);
        var initial = earlier.Contains(EventTypes.Canceled) ? EmailState.Canceled
            : accepted.ScheduledAt is not null && !earlier.Contains(EventTypes.Queued) ? EmailState.Scheduled
            : EmailState.Queued;
        foreach (var (kind, addresses) in new[] { ("to", accepted.To), ("cc", accepted.Cc), ("bcc", accepted.Bcc) })
        {
            foreach (var address in addresses.Select(AddressOf))
            {
                var recipient = FindOrAddRecipient(email, address, initial);
                recipient.Kind ??= kind;
            }
        }

        foreach (var tag in accepted.Tags.DistinctBy(t => (t.Name, t.Value)))
        {
            db.EmailLabels.Add(new EmailLabelRecord { EmailId = email.Id, Kind = EmailLabelRecord.TagKind, Name = tag.Name, Value = tag.Value });
        }

        foreach (var (key, value) in accepted.Metadata)
        {
            db.EmailLabels.Add(new EmailLabelRecord { EmailId = email.Id, Kind = EmailLabelRecord.MetadataKind, Name = key, Value = value });
        }

        await AddEventAsync(email, accepted.EventId, accepted.ScheduledAt is null ? EventTypes.Accepted : EventTypes.Scheduled,
            accepted.Timestamp, accepted.ScheduledAt, cancellationToken);
        await SaveAsync(email, cancellationToken);
    }

    /// <summary>The email was handed to the delivery workers: scheduled recipients become queued.</summary>
    public Task RecordQueuedAsync(EmailQueued queued, CancellationToken cancellationToken) =>
        RecordLifecycleAsync(queued.EventId, queued.EmailId, EventTypes.Queued, queued.Timestamp, null, email =>
        {
            foreach (var recipient in email.Recipients.Where(r => r.State == EmailState.Scheduled))
            {
                Move(recipient, EmailState.Queued);
            }
        }, cancellationToken);

    public Task RecordRescheduledAsync(EmailRescheduled rescheduled, CancellationToken cancellationToken) =>
        RecordLifecycleAsync(rescheduled.EventId, rescheduled.EmailId, EventTypes.Scheduled, rescheduled.Timestamp, rescheduled.ScheduledAt,
            email => email.ScheduledAt = rescheduled.ScheduledAt.UtcDateTime, cancellationToken);

    /// <summary>Canceled before it was sent: every recipient not already final is canceled.</summary>
    public Task RecordCanceledAsync(EmailCanceled canceled, CancellationToken cancellationToken) =>
        RecordLifecycleAsync(canceled.EventId, canceled.EmailId, EventTypes.Canceled, canceled.Timestamp, null, email =>
        {
            foreach (var recipient in email.Recipients.Where(r => !r.State.IsTerminal()))
            {
                Move(recipient, EmailState.Canceled);
            }
        }, cancellationToken);

    private async Task RecordLifecycleAsync(
        Guid eventId, Guid emailId, string type, DateTimeOffset timestamp, DateTimeOffset? scheduledAt,
        Action<EmailRecord> apply, CancellationToken cancellationToken)
    {
        if (await AlreadyRecordedAsync(eventId, cancellationToken))
        {
            return;
        }

        var email = await LoadOrAddAsync(emailId, cancellationToken);
        apply(email);
        await AddEventAsync(email, eventId, type, timestamp, scheduledAt, cancellationToken);
        await SaveAsync(email, cancellationToken);
    }

    private void Move(RecipientRecord recipient, EmailState state)
    {
        recipient.State = state;
        recipient.UpdatedAt = Now;
        recipient.Version++;
    }

    private Task AddEventAsync(EmailRecord email, Guid eventId, string type, DateTimeOffset timestamp, DateTimeOffset? scheduledAt, CancellationToken cancellationToken) =>
        AddEventAsync(email, new EventRecord
        {
            Id = eventId,
            EmailId = email.Id,
            Type = type,
            OccurredAt = timestamp.UtcDateTime,
            NextAttemptAt = scheduledAt?.UtcDateTime,
            RecordedAt = Now,
        }, cancellationToken);

    /// <summary>The timeline entry and, in the same unit of work, its webhook deliveries.</summary>
    private async Task AddEventAsync(EmailRecord email, EventRecord @event, CancellationToken cancellationToken)
    {
        db.Events.Add(@event);
        await webhooks.AddAsync(@event, email.AcceptedAt is null ? null : email, cancellationToken);
    }

    public async Task RecordOutcomeAsync(IRecipientOutcome outcome, EmailState state, string? reason, DateTimeOffset? nextAttemptAt, CancellationToken cancellationToken)
    {
        if (await AlreadyRecordedAsync(outcome.EventId, cancellationToken))
        {
            return;
        }

        var email = await LoadOrAddAsync(outcome.EmailId, cancellationToken);
        var recipient = FindOrAddRecipient(email, outcome.Recipient);
        if (Supersedes(recipient, state, outcome.Attempt))
        {
            recipient.State = state;
            recipient.Attempt = outcome.Attempt;
            recipient.SmtpCode = outcome.Reply?.Code;
            recipient.EnhancedCode = outcome.Reply?.EnhancedCode;
            recipient.SmtpText = outcome.Reply?.Text;
            recipient.Reason = reason;
            recipient.NextAttemptAt = state == EmailState.Deferred ? nextAttemptAt?.UtcDateTime : null;
            recipient.UpdatedAt = Now;
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
            Attempt = outcome.Attempt,
            SmtpCode = outcome.Reply?.Code,
            EnhancedCode = outcome.Reply?.EnhancedCode,
            SmtpText = outcome.Reply?.Text,
            Reason = reason,
            NextAttemptAt = nextAttemptAt?.UtcDateTime,
            RecordedAt = Now,
        };
        await AddEventAsync(email, @event, cancellationToken);
        if (state == EmailState.Bounced)
        {
            await suppressions.OnBounceAsync(@event, cancellationToken);
        }

        await SaveAsync(email, cancellationToken);
    }

    /// <summary>
    /// Whether an event in <paramref name="state"/> from <paramref name="attempt"/> may replace what the recipient
    /// shows: nothing replaces a final state; a final state replaces any pending one, whatever its attempt (a
    /// relay's 250 or 5xx is a fact even when it is reported late); otherwise a later attempt wins, and within
    /// one attempt a state only advances.
    /// </summary>
    internal static bool Supersedes(RecipientRecord recipient, EmailState state, int attempt) =>
        !recipient.State.IsTerminal()
        && (state.IsTerminal()
            || attempt > recipient.Attempt
            || (attempt == recipient.Attempt && state.Progress() > recipient.State.Progress()));

    private DateTime Now => clock.GetUtcNow().UtcDateTime;

    private Task<bool> AlreadyRecordedAsync(Guid eventId, CancellationToken cancellationToken) =>
        db.Events.AnyAsync(e => e.Id == eventId, cancellationToken);

    private async Task<EmailRecord> LoadOrAddAsync(Guid emailId, CancellationToken cancellationToken)
    {
        var email = await db.Emails.Include(e => e.Recipients).SingleOrDefaultAsync(e => e.Id == emailId, cancellationToken);
        if (email is null)
        {
            email = new EmailRecord { Id = emailId };
            db.Emails.Add(email);
        }

        return email;
    }

    private static RecipientRecord FindOrAddRecipient(EmailRecord email, string address, EmailState initial = EmailState.Queued)
    {
        var key = address.ToLowerInvariant();
        var recipient = email.Recipients.Find(r => r.Address == key);
        if (recipient is null)
        {
            recipient = new RecipientRecord { EmailId = email.Id, Address = key, State = initial };
            email.Recipients.Add(recipient);
        }

        return recipient;
    }

    private async Task SaveAsync(EmailRecord email, CancellationToken cancellationToken)
    {
        // Until the email's details arrive, its full recipient list is unknown: it cannot be final yet.
        var state = EmailStates.Derive(email.Recipients.Select(r => r.State));
        email.State = email.AcceptedAt is null && state.IsTerminal() ? EmailState.Sending : state;
        email.UpdatedAt = Now;
        email.Version++;
        try
        {
            await db.SaveChangesAsync(cancellationToken);
        }
        catch (DbUpdateException)
        {
            // Another event for this email won the race (a concurrent insert or update). Forget what this
            // attempt tracked so the consumer's retry starts again from what is now stored.
            db.ChangeTracker.Clear();
            throw;
        }
    }

    private static string AddressOf(string mailbox) =>
        MailboxAddress.TryParse(mailbox, out var parsed) ? parsed.Address : mailbox;
}
