namespace EmailPlatform.Contracts;

/// <summary>
/// Published once the ingress has durably accepted an email: the status service's record of what was accepted
/// (bodies included, attachments only by name). <paramref name="ScheduledAt"/> is set for a scheduled send;
/// <see cref="EmailQueued"/> follows when the email is handed to the delivery workers.
/// </summary>
public sealed record EmailAccepted(
    Guid EventId,
    Guid EmailId,
    string MessageId,
    string From,
    IReadOnlyList<string> To,
    IReadOnlyList<string> Cc,
    IReadOnlyList<string> Bcc,
    IReadOnlyList<string> ReplyTo,
    string Subject,
    string? Html,
    string? Text,
    IReadOnlyList<string> AttachmentNames,
    IReadOnlyList<EmailTag> Tags,
    IReadOnlyDictionary<string, string> Metadata,
    EmailPriority Priority,
    DateTimeOffset AcceptedAt,
    DateTimeOffset? ScheduledAt,
    DateTimeOffset Timestamp)
{
    /// <summary>
    /// Set when the bodies alone were too large for the bus (<c>Ingress:InlineContentLimit</c>): <see cref="Html"/> and
    /// <see cref="Text"/> are then null here and the status service reads them from the content store.
    /// </summary>
    public StoredContent? StoredBody { get; init; }
}
