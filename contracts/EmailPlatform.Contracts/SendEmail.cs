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

    /// <summary>
    /// For a scheduled email, the time it was due: its <c>scheduled_at</c>, or the latest one after a reschedule
    /// (<c>PATCH /v1/emails/{id}</c>). The worker dates the message and measures the time to delivery from it, not from
    /// <see cref="AcceptedAt"/>, which for such an email can be days earlier. Null for an email sent at once, and in a
    /// command from an ingress that predates it; an older worker ignores it. The ingress sets it when it publishes the
    /// command, from the time the command was due, so every copy and redelivery of the command carries the same value.
    /// </summary>
    public DateTimeOffset? ScheduledAt { get; init; }
}
