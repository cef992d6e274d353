namespace EmailPlatform.Contracts;

/// <summary>
/// The command that asks a delivery worker to send one accepted email. Built once at accept:
/// <paramref name="MessageId"/> is fixed then and reused on every attempt, so a retried send is
/// recognisable as the same message downstream.
/// </summary>
public sealed record SendEmail(
    Guid EmailId,
    string MessageId,
    Envelope Envelope,
    string From,
    IReadOnlyList<string> To,
    IReadOnlyList<string> Cc,
    IReadOnlyList<string> ReplyTo,
    string Subject,
    string? Html,
    string? Text,
    IReadOnlyDictionary<string, string> Headers,
    IReadOnlyList<EmailAttachment> Attachments,
    IReadOnlyList<EmailTag> Tags,
    IReadOnlyDictionary<string, string> Metadata,
    EmailPriority Priority,
    DateTimeOffset AcceptedAt);
