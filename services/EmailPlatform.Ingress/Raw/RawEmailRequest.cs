using EmailPlatform.Contracts;
using EmailPlatform.Ingress.Sending;

namespace EmailPlatform.Ingress.Raw;

/// <summary>
/// The body of <c>POST /v1/emails/raw</c>: a complete RFC 5322 message in base64 and the SMTP envelope to send it
/// with. Tags, metadata, priority and scheduling work as for <c>POST /v1/emails</c>.
/// </summary>
public sealed record RawEmailRequest
{
    /// <summary>The message (headers and body, CRLF line endings) in base64.</summary>
    public string? Raw { get; init; }

    /// <summary>The envelope sender (SMTP <c>MAIL FROM</c>), where bounces go.</summary>
    public string? MailFrom { get; init; }

    /// <summary>The envelope recipients (SMTP <c>RCPT TO</c>): who receives it, whatever the headers say.</summary>
    public IReadOnlyList<string>? RcptTo { get; init; }

    public IReadOnlyList<TagRequest>? Tags { get; init; }

    public IReadOnlyDictionary<string, string>? Metadata { get; init; }

    public EmailPriority? Priority { get; init; }

    public string? ScheduledAt { get; init; }

    /// <summary>The delivery deadline, as <c>expires_at</c> of <c>POST /v1/emails</c>.</summary>
    public string? ExpiresAt { get; init; }
}
