using EmailPlatform.Ingress.Storage;
using System.Diagnostics;
using System.Text.Json;
using EmailPlatform.Contracts;
using EmailPlatform.ServiceDefaults.Json;
using EmailPlatform.ServiceDefaults.Storage;
using MassTransit;
using Microsoft.Extensions.Options;

namespace EmailPlatform.Ingress.Outbox;

/// <summary>
/// Writes what an accepted, rescheduled or canceled email must announce into the outbox of the caller's
/// <see cref="IngressDbContext"/>; the caller's <c>SaveChanges</c> commits it with everything else, or nothing. An
/// accept only builds its rows (<see cref="Accept"/>): the caller commits them through the context or, on
/// PostgreSQL, through the group commit of <see cref="OutboxWriter"/>.
/// </summary>
public sealed class Outbox(IngressDbContext db, OutboxSignal signal, IOptions<IngressOptions> options, TimeProvider clock)
{
    /// <summary>
    /// The rows of an accepted email. Sent now: one <see cref="AcceptedEmail"/> row. Scheduled: its
    /// <see cref="EmailAccepted"/> now, and its <see cref="EmailQueued"/> and <see cref="SendEmail"/> at
    /// <paramref name="scheduledAt"/>. An email whose content is over <c>Ingress:InlineContentLimit</c> also gets its
    /// <see cref="EmailContentRecord"/>, to commit with the rows, and its messages carry only a reference to it.
    /// </summary>
    public (OutboxMessage[] Rows, EmailContentRecord? Content) Accept(SendEmail command, IReadOnlyList<string> bcc, DateTimeOffset? scheduledAt)
    {
        var settings = options.Value;
        var now = clock.GetUtcNow();
        var due = scheduledAt ?? now;
        var keepUntil = (command.ExpiresAt > due ? command.ExpiresAt.Value : due) + settings.StoredContentRetention;
        var (sent, content) = StoredContents.Offload(command, settings.InlineContentLimit, now.UtcDateTime, keepUntil.UtcDateTime);
        var email = new AcceptedEmail(sent, bcc, NewId.NextGuid(), NewId.NextGuid(), now)
        {
            Stored = content is null ? null
                : StoredContents.BodySize(command.Html, command.Text) <= settings.InlineContentLimit
                    ? new StoredSummary(command.Html, command.Text, [.. command.Attachments.Select(a => a.Filename)], null)
                    : new StoredSummary(null, null, [.. command.Attachments.Select(a => a.Filename)], sent.StoredContent),
        };
        var traceParent = Activity.Current?.Id;
        OutboxMessage[] rows = scheduledAt is { } at ? Split(email, at, traceParent) : [Row(command.EmailId, email, email.Timestamp, traceParent)];
        return (rows, content);
    }

    /// <summary>
    /// The unpublished <see cref="AcceptedEmail"/> row of an email that is to be canceled or rescheduled, as its three
    /// messages in rows of their own (the same events, by id), for the change to apply to the queued part. They keep the
    /// row's trace, the accepting request's, not the trace of the request that changes them: the email's messages, and
    /// the trace id the status service records for it, stay the email's.
    /// </summary>
    public OutboxMessage[] Split(OutboxMessage row) =>
        Split(JsonSerializer.Deserialize<AcceptedEmail>(row.Payload, StoredJson.Options)
            ?? throw new InvalidOperationException($"Outbox message {row.Id} has an empty payload."), row.AvailableAt, row.TraceParent);

    private OutboxMessage[] Split(AcceptedEmail email, DateTimeOffset due, string? traceParent) => InWrittenOrder(
    [
        Row(email.Command.EmailId, email.Accepted(due > email.Timestamp ? due : null), email.Timestamp, traceParent),
        Row(email.Command.EmailId, email.Queued(due), due, traceParent),
        Row(email.Command.EmailId, email.Command, due, traceParent),
    ]);

    /// <summary>
    /// A version 7 id is ordered by its millisecond only, and random within it: the ids of rows written together are
    /// sorted (as PostgreSQL orders uuids, byte by byte) into the order the rows are written, so that the publisher's
    /// claim (<c>ORDER BY available_at, id</c>) takes a scheduled email's <see cref="EmailQueued"/> before its
    /// <see cref="SendEmail"/>, due at the same time, even when the two fall into different batches.
    /// </summary>
    private static OutboxMessage[] InWrittenOrder(OutboxMessage[] rows)
    {
        // Their hex digits, in order, are their bytes in the order PostgreSQL compares them.
        var ids = rows.Select(r => r.Id).OrderBy(id => id.ToString("N"), StringComparer.Ordinal).ToArray();
        for (var i = 0; i < rows.Length; i++)
        {
            rows[i].Id = ids[i];
        }

        return rows;
    }

    /// <summary>Messages for this email that the publisher has not sent yet (the ones a cancel or reschedule changes).</summary>
    public IQueryable<OutboxMessage> Pending(Guid emailId) =>
        db.OutboxMessages.Where(m => m.EmailId == emailId && m.PublishedAt == null);

    public void Add<T>(Guid emailId, T message, DateTimeOffset availableAt) where T : class =>
        db.OutboxMessages.Add(Row(emailId, message, availableAt, Activity.Current?.Id));

    /// <param name="traceParent">W3C <c>traceparent</c> of the trace its publish joins (<see cref="OutboxMessage.TraceParent"/>).</param>
    private OutboxMessage Row<T>(Guid emailId, T message, DateTimeOffset availableAt, string? traceParent) where T : class =>
        new()
        {
            Id = Guid.CreateVersion7(),
            EmailId = emailId,
            MessageType = OutboxMessageTypes.NameOf<T>(),
            Payload = JsonSerializer.Serialize(message, StoredJson.Options),
            CreatedAt = clock.GetUtcNow().UtcDateTime,
            AvailableAt = availableAt.UtcDateTime,
            TraceParent = traceParent,
        };

    /// <summary>Call after the commit: wakes the publisher for what is due now.</summary>
    public void Notify() => signal.Notify();
}
