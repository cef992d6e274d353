namespace EmailPlatform.Ingress.Raw;

/// <summary>
/// The body of <c>POST /v1/emails/raw</c>: a complete RFC 5322 message in base64 and the SMTP envelope to send it
/// with. Tags, metadata, priority and scheduling work as for <c>POST /v1/emails</c>.
/// </summary>
public sealed record RawEmailRequest(
    string? Raw,
    string? MailFrom,
    IReadOnlyList<string>? RcptTo,
    IReadOnlyList<Sending.TagRequest>? Tags,
    IReadOnlyDictionary<string, string>? Metadata,
    Contracts.EmailPriority? Priority,
    string? ScheduledAt);
