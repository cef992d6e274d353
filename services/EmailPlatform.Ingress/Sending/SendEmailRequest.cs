using System.Text.Json.Serialization;
using EmailPlatform.Contracts;
using EmailPlatform.Ingress.Templates;

namespace EmailPlatform.Ingress.Sending;

/// <summary>
/// The body of <c>POST /v1/emails</c>, in Resend's wire shape (snake_case). <c>to</c>, <c>cc</c>,
/// <c>bcc</c> and <c>reply_to</c> take a string or an array of strings. <c>metadata</c> and
/// <c>priority</c> are ours.
/// </summary>
public sealed record SendEmailRequest
{
    public string? From { get; init; }

    [JsonConverter(typeof(StringOrArrayConverter))]
    public IReadOnlyList<string>? To { get; init; }

    [JsonConverter(typeof(StringOrArrayConverter))]
    public IReadOnlyList<string>? Cc { get; init; }

    [JsonConverter(typeof(StringOrArrayConverter))]
    public IReadOnlyList<string>? Bcc { get; init; }

    [JsonConverter(typeof(StringOrArrayConverter))]
    public IReadOnlyList<string>? ReplyTo { get; init; }

    public string? Subject { get; init; }

    public string? Html { get; init; }

    public string? Text { get; init; }

    public IReadOnlyDictionary<string, string>? Headers { get; init; }

    public IReadOnlyList<AttachmentRequest>? Attachments { get; init; }

    public IReadOnlyList<TagRequest>? Tags { get; init; }

    public IReadOnlyDictionary<string, string>? Metadata { get; init; }

    public EmailPriority? Priority { get; init; }

    /// <summary>When to send (ISO 8601, future, at most <c>Ingress:MaxScheduleAhead</c> ahead); now when absent.</summary>
    public string? ScheduledAt { get; init; }

    /// <summary>
    /// Ours: the delivery deadline (ISO 8601, future, after <c>scheduled_at</c>, at most <c>Ingress:MaxExpiresAhead</c>
    /// ahead). Recipients not delivered by then fail as expired instead of being retried further.
    /// </summary>
    public string? ExpiresAt { get; init; }

    /// <summary>A stored template to render at accept: <c>{"id": "welcome@2", "variables": {...}}</c>.</summary>
    public TemplateReference? Template { get; init; }
}

public sealed record AttachmentRequest(
    [property: JsonConverter(typeof(FileNameConverter))] string? Filename,
    string? Content,
    string? ContentType,
    string? ContentId,
    string? Path);

public sealed record TagRequest(string? Name, string? Value);
