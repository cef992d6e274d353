namespace EmailPlatform.Contracts;

/// <summary>
/// Published with <see cref="SendEmail"/> when an accepted email leaves the outbox: the status
/// service's record of what was accepted (bodies included, attachments only by name).
/// </summary>
public sealed record EmailQueued(
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
    DateTimeOffset Timestamp);
