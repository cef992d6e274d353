using EmailPlatform.Contracts;
using EmailPlatform.Ingress.Outbox;
using EmailPlatform.Ingress.Storage;
using MassTransit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace EmailPlatform.Ingress.Scheduling;

/// <summary>What became of a cancel or reschedule.</summary>
internal enum UnsentChange
{
    /// <summary>Done, and announced on the bus.</summary>
    Changed,

    /// <summary>The email was handed to delivery already; nothing changed.</summary>
    AlreadySent,

    /// <summary>The email was canceled already; nothing changed.</summary>
    AlreadyCanceled,

    /// <summary>The ingress never accepted an email with this id.</summary>
    Unknown,

    /// <summary>The new time is not before the email's <c>expires_at</c>; nothing changed.</summary>
    AfterExpiry,

    /// <summary>
    /// The email's stored command cannot be read (the publisher parks such a row: it is never sent); nothing changed,
    /// and nothing can be, until an operator has dealt with it.
    /// </summary>
    Unreadable,
}

/// <summary>
/// Cancel and reschedule of an email that has not left yet, for <c>POST /v1/emails/{id}/cancel</c>,
/// <c>PATCH /v1/emails/{id}</c> and the <see cref="CancelEmail"/> command. Both work while the email's
/// <c>SendEmail</c> is still in the outbox, that is until a publisher claims it once it is due
/// (<see cref="OutboxMessage.PublishingUntil"/>, committed before anything is sent). The pending rows are locked
/// first, so a cancel and the publisher never both win: either the email is canceled and never sent, or it was
/// already handed to delivery and nothing changes, even when the publisher failed to mark it published.
/// </summary>
internal sealed class UnsentEmails(IngressDbContext db, Outbox.Outbox outbox, IOptions<IngressOptions> options, TimeProvider clock)
{
    public Task<UnsentChange> CancelAsync(Guid emailId, CancellationToken cancellationToken) =>
        ChangeAsync(emailId, cancellationToken,
            (unsent, _) =>
            {
                db.OutboxMessages.RemoveRange(unsent);
                return true;
            },
            () => new EmailCanceled(NewId.NextGuid(), emailId, clock.GetUtcNow()));

    public Task<UnsentChange> RescheduleAsync(Guid emailId, DateTimeOffset at, CancellationToken cancellationToken) =>
        ChangeAsync(emailId, cancellationToken,
            (unsent, command) =>
            {
                if (command.ExpiresAt is { } expiresAt && at >= expiresAt)
                {
                    return false;
                }

                // A parked row (unreadable) stays parked: moved, it would only be claimed and parked again.
                unsent.Where(m => m.AvailableAt != OutboxPublisher.Parked).ToList().ForEach(m => m.AvailableAt = at.UtcDateTime);
                return true;
            },
            () => new EmailRescheduled(NewId.NextGuid(), emailId, at, clock.GetUtcNow()),
            // Stored content is kept for as long after the new time as after the old one.
            command => command.StoredContent is { } stored
                ? db.EmailContents.Where(c => c.EmailId == stored.Key && c.KeepUntil < at.UtcDateTime + options.Value.StoredContentRetention)
                    .ExecuteUpdateAsync(c => c.SetProperty(r => r.KeepUntil, at.UtcDateTime + options.Value.StoredContentRetention), cancellationToken)
                : Task.CompletedTask);

    /// <summary>
    /// Locks the email's unpublished rows, applies <paramref name="change"/> to its not yet sent <c>EmailQueued</c>
    /// and <c>SendEmail</c> (given the command, for what it says about the email), then <paramref name="alongside"/>,
    /// announces it, and commits.
    /// </summary>
    private async Task<UnsentChange> ChangeAsync<TEvent>(
        Guid emailId, CancellationToken cancellationToken, Func<List<OutboxMessage>, SendEmail, bool> change, Func<TEvent> announce,
        Func<SendEmail, Task>? alongside = null)
        where TEvent : class
    {
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        var pending = await LockPendingAsync(emailId, cancellationToken);
        if (!pending.Exists(m => OutboxMessageTypes.HasCommand(m.MessageType)) && await HasUnpublishedCommandAsync(emailId, cancellationToken))
        {
            // The row this change waited for was split by a change before it (its replacements committed after this
            // statement began, so it saw none of them): lock them now.
            pending = await LockPendingAsync(emailId, cancellationToken);
        }

        if (pending.FirstOrDefault(m => OutboxMessageTypes.HasCommand(m.MessageType)) is not { } sendRow)
        {
            var canceled = OutboxMessageTypes.NameOf<EmailCanceled>();
            var kinds = await db.OutboxMessages.Where(m => m.EmailId == emailId).Select(m => m.MessageType).Distinct().ToListAsync(cancellationToken);
            return kinds.Count == 0 ? UnsentChange.Unknown : kinds.Contains(canceled) ? UnsentChange.AlreadyCanceled : UnsentChange.AlreadySent;
        }

        if (sendRow.PublishingUntil is not null)
        {
            // A publisher has claimed it: the broker may have the command already, even though it is not marked
            // published (the publisher may yet fail to mark it, or have died). Too late to change, as once published.
            return UnsentChange.AlreadySent;
        }

        // Only the reads are guarded: a failure of the store's own (tracking the parts) is no unreadable message.
        OutboxMessage[]? parts = null;
        SendEmail command;
        try
        {
            // Accepted for now and not yet published: one row, which becomes its three messages so that the change
            // applies to the queued part while the email's EmailAccepted still leaves.
            parts = sendRow.MessageType == OutboxMessageTypes.AcceptedEmailRow ? outbox.Split(sendRow) : null;
            command = OutboxMessageTypes.Command(parts?.Single(m => m.MessageType == nameof(SendEmail)) ?? sendRow);
        }
        catch (Exception ex) when (OutboxMessageTypes.IsUnreadable(ex))
        {
            // Its command's row cannot be read (parked by the publisher, never sent): whatever this change would do, it
            // could not say what it changed, nor announce it. Refused, as often as it is asked.
            return UnsentChange.Unreadable;
        }

        if (parts is not null)
        {
            db.OutboxMessages.Remove(sendRow);
            db.OutboxMessages.AddRange(parts);
            pending.Remove(sendRow);
            pending.AddRange(parts);
        }

        if (!change([.. pending.Where(m => m.MessageType is nameof(SendEmail) or nameof(EmailQueued))], command))
        {
            return UnsentChange.AfterExpiry;
        }

        if (alongside is not null)
        {
            await alongside(command);
        }

        outbox.Add(emailId, announce(), clock.GetUtcNow());
        await db.SaveChangesAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        outbox.Notify();
        return UnsentChange.Changed;
    }

    /// <summary>
    /// Whether the email has an unpublished command now. On PostgreSQL, a change that split the email's single row
    /// (<see cref="OutboxMessageTypes.AcceptedEmailRow"/>) deleted it and inserted its parts: another change waiting
    /// on that row's lock finds it deleted and skips it, and its statement cannot see the parts inserted after it began.
    /// </summary>
    private Task<bool> HasUnpublishedCommandAsync(Guid emailId, CancellationToken cancellationToken) =>
        db.OutboxMessages.AnyAsync(m => m.EmailId == emailId && m.PublishedAt == null
            && OutboxMessageTypes.CommandRows.Contains(m.MessageType), cancellationToken);

    /// <summary>
    /// The email's unpublished outbox rows, locked until the transaction ends (waiting for a publish in flight), in id order
    /// as the publisher's mark locks them, so that the two never wait for each other crosswise (a deadlock).
    /// </summary>
    private Task<List<OutboxMessage>> LockPendingAsync(Guid emailId, CancellationToken cancellationToken) =>
        (db.Database.IsNpgsql()
            ? db.OutboxMessages.FromSql($"SELECT * FROM outbox_messages WHERE email_id = {emailId} AND published_at IS NULL ORDER BY id FOR UPDATE")
            : db.OutboxMessages.Where(m => m.EmailId == emailId && m.PublishedAt == null))
        .ToListAsync(cancellationToken);
}
