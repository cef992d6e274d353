using EmailPlatform.Ingress.Storage;
using System.Diagnostics;
using System.Text.Json;
using EmailPlatform.Contracts;
using MassTransit;

namespace EmailPlatform.Ingress.Outbox;

/// <summary>
/// Writes what an accepted, rescheduled or canceled email must announce into the outbox of the caller's
/// <see cref="IngressDbContext"/>; the caller's <c>SaveChanges</c> commits it with everything else, or nothing. An
/// accept only builds its rows (<see cref="Accept"/>): the caller commits them through the context or, on
/// PostgreSQL, through the group commit of <see cref="OutboxWriter"/>.
/// </summary>
public sealed class Outbox(IngressDbContext db, OutboxSignal signal, TimeProvider clock)
{
    /// <summary>
    /// The rows of an accepted email: <see cref="EmailAccepted"/> now; <see cref="EmailQueued"/> and
    /// <see cref="SendEmail"/> now, or at <paramref name="scheduledAt"/>.
    /// </summary>
    public OutboxMessage[] Accept(SendEmail command, IReadOnlyList<string> bcc, DateTimeOffset? scheduledAt)
    {
        var now = clock.GetUtcNow();
        var due = scheduledAt ?? now;
        return
        [
            Row(command.EmailId, new EmailAccepted(
            EventId: NewId.NextGuid(),
            EmailId: command.EmailId,
            MessageId: command.MessageId,
            From: command.From,
            To: command.To,
            Cc: command.Cc,
            Bcc: bcc,
            ReplyTo: command.ReplyTo,
            Subject: command.Subject,
            Html: command.Html,
            Text: command.Text,
            AttachmentNames: command.Attachments.Select(a => a.Filename).ToList(),
            Tags: command.Tags,
            Metadata: command.Metadata,
            Priority: command.Priority,
            AcceptedAt: command.AcceptedAt,
            ScheduledAt: scheduledAt,
            Timestamp: now), now),
            Row(command.EmailId, new EmailQueued(NewId.NextGuid(), command.EmailId, due), due),
            Row(command.EmailId, command, due),
        ];
    }

    /// <summary>Messages for this email that the publisher has not sent yet (the ones a cancel or reschedule changes).</summary>
    public IQueryable<OutboxMessage> Pending(Guid emailId) =>
        db.OutboxMessages.Where(m => m.EmailId == emailId && m.PublishedAt == null);

    public void Add<T>(Guid emailId, T message, DateTimeOffset availableAt) where T : class =>
        db.OutboxMessages.Add(Row(emailId, message, availableAt));

    private OutboxMessage Row<T>(Guid emailId, T message, DateTimeOffset availableAt) where T : class =>
        new()
        {
            Id = Guid.CreateVersion7(),
            EmailId = emailId,
            MessageType = OutboxMessageTypes.NameOf<T>(),
            Payload = JsonSerializer.Serialize(message, OutboxMessageTypes.Json),
            CreatedAt = clock.GetUtcNow().UtcDateTime,
            AvailableAt = availableAt.UtcDateTime,
            TraceParent = Activity.Current?.Id,
        };

    /// <summary>Call after the commit: wakes the publisher for what is due now.</summary>
    public void Notify() => signal.Notify();
}
