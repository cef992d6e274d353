using EmailPlatform.Contracts;
using EmailPlatform.Status.Storage;
using Microsoft.EntityFrameworkCore;
using MimeKit;

namespace EmailPlatform.Status.Recording;

/// <summary>
/// Records events into the store exactly once (by event id) and tolerates any order: an outcome may come
/// before the email's details, and a late or redelivered event never moves a recipient backwards — a
/// final state is final, and within the same attempt a state only advances. Concurrent writers for one
/// email meet optimistic concurrency and the loser is retried by the consumer's retry policy.
/// </summary>
public sealed class StatusRecorder(StatusDbContext db, TimeProvider clock)
{
    public async Task RecordQueuedAsync(EmailQueued queued, CancellationToken cancellationToken)
    {
        if (await AlreadyRecordedAsync(queued.EventId, cancellationToken))
        {
            return;
        }

        var email = await LoadOrAddAsync(queued.EmailId, cancellationToken);
        if (email.AcceptedAt is not null)
        {
            // The outbox published this email again (a crash between the broker's confirm and the commit):
            // same email, new event id. Its details are already here.
            return;
        }

        email.MessageId = queued.MessageId;
        email.From = queued.From;
        email.To = [.. queued.To];
        email.Cc = [.. queued.Cc];
        email.Bcc = [.. queued.Bcc];
        email.ReplyTo = [.. queued.ReplyTo];
        email.Subject = queued.Subject;
        email.Html = queued.Html;
        email.Text = queued.Text;
        email.AttachmentNames = [.. queued.AttachmentNames];
        email.Tags = [.. queued.Tags];
        email.Metadata = new Dictionary<string, string>(queued.Metadata);
        email.Priority = queued.Priority;
        email.AcceptedAt = queued.AcceptedAt.UtcDateTime;

        foreach (var (kind, addresses) in new[] { ("to", queued.To), ("cc", queued.Cc), ("bcc", queued.Bcc) })
        {
            foreach (var address in addresses.Select(AddressOf))
            {
                var recipient = FindOrAddRecipient(email, address);
                recipient.Kind ??= kind;
            }
        }

        db.Events.Add(new EventRecord
        {
            Id = queued.EventId,
            EmailId = queued.EmailId,
            Type = EventTypes.Queued,
            OccurredAt = queued.Timestamp.UtcDateTime,
            RecordedAt = Now,
        });
        await SaveAsync(email, cancellationToken);
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

        db.Events.Add(new EventRecord
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
        });
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

    private static RecipientRecord FindOrAddRecipient(EmailRecord email, string address)
    {
        var key = address.ToLowerInvariant();
        var recipient = email.Recipients.Find(r => r.Address == key);
        if (recipient is null)
        {
            recipient = new RecipientRecord { EmailId = email.Id, Address = key };
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
