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
    DateTimeOffset AcceptedAt)
{
    /// <summary>
    /// For a raw send (<c>POST /v1/emails/raw</c>): the client's RFC 5322 message, sent as it is (with the
    /// Message-ID fixed at accept). The other fields then describe it but are not used to build it.
    /// </summary>
    public byte[]? RawMessage { get; init; }

    /// <summary>
    /// The client's deadline (request field <c>expires_at</c>): recipients not delivered by then are <c>failed</c>
    /// (expired) instead of retried further. Null: the worker's configured maximum age from <see cref="AcceptedAt"/>.
    /// </summary>
    public DateTimeOffset? ExpiresAt { get; init; }

    /// <summary>
    /// Set when the email was too large to travel on the bus (<c>Ingress:InlineContentLimit</c>): <see cref="Html"/>,
    /// <see cref="Text"/>, <see cref="Attachments"/> and <see cref="RawMessage"/> are then empty here and kept in the
    /// content store, from which the worker loads them before building the message.
    /// </summary>
    public StoredContent? StoredContent { get; init; }
}
