using EmailPlatform.Contracts;
using EmailPlatform.Status.Storage;

namespace EmailPlatform.Status.Reads;

/// <summary>
/// <c>GET /v1/emails/{id}</c>: Resend's email object (<c>object</c> … <c>last_event</c>, <c>message_id</c>)
/// followed by ours: <c>trace_id</c> (the W3C trace the email was accepted in, to look it up in a trace backend), the
/// derived <c>status</c>, <c>metadata</c>, each recipient's state and the timeline.
/// </summary>
public sealed record EmailResponse(
    string Object,
    Guid Id,
    string? From,
    IReadOnlyList<string> To,
    IReadOnlyList<string>? Cc,
    IReadOnlyList<string>? Bcc,
    IReadOnlyList<string>? ReplyTo,
    string? Subject,
    string? Html,
    string? Text,
    DateTime? CreatedAt,
    DateTime? ScheduledAt,
    string LastEvent,
    IReadOnlyList<EmailTag> Tags,
    string? MessageId,
    string? TraceId,
    string Status,
    IReadOnlyDictionary<string, string> Metadata,
    IReadOnlyList<string> Attachments,
    IReadOnlyList<RecipientResponse> Recipients,
    IReadOnlyList<EventResponse> Events)
{
    public static EmailResponse Create(EmailRecord email, IEnumerable<EventRecord> events) => new(
        Object: "email",
        Id: email.Id,
        From: email.From,
        To: email.To,
        Cc: NullIfEmpty(email.Cc),
        Bcc: NullIfEmpty(email.Bcc),
        ReplyTo: NullIfEmpty(email.ReplyTo),
        Subject: email.Subject,
        Html: email.Html,
        Text: email.Text,
        CreatedAt: email.AcceptedAt,
        ScheduledAt: email.ScheduledAt,
        LastEvent: email.LastEvent(),
        Tags: email.Tags,
        MessageId: email.MessageId,
        TraceId: email.TraceId,
        Status: email.State.ToWire(),
        Metadata: email.Metadata,
        Attachments: email.AttachmentNames,
        Recipients: email.Recipients.OrderBy(r => r.Address, StringComparer.Ordinal).Select(RecipientResponse.From).ToList(),
        Events: events.Select(EventResponse.From).ToList());

    private static IReadOnlyList<string>? NullIfEmpty(List<string> values) => values.Count == 0 ? null : values;
}

public sealed record SmtpReplyResponse(int Code, string? EnhancedCode, string? Text)
{
    public static SmtpReplyResponse? From(int? code, string? enhancedCode, string? text) =>
        code is { } c ? new SmtpReplyResponse(c, enhancedCode, text) : null;
}

public sealed record RecipientResponse(
    string Email,
    string? Type,
    string Status,
    int Attempts,
    SmtpReplyResponse? LastReply,
    string? Reason,
    DateTime? NextAttemptAt,
    DateTime UpdatedAt)
{
    public static RecipientResponse From(RecipientRecord r) => new(
        r.Address, r.Kind, r.State.ToWire(), r.Attempt,
        SmtpReplyResponse.From(r.SmtpCode, r.EnhancedCode, r.SmtpText), r.Reason, r.NextAttemptAt, r.UpdatedAt);
}

public sealed record EventResponse(
    Guid Id,
    string Type,
    string? Recipient,
    DateTime CreatedAt,
    string? Relay,
    int Attempt,
    SmtpReplyResponse? Smtp,
    string? Reason,
    DateTime? NextAttemptAt)
{
    public static EventResponse From(EventRecord e) => new(
        e.Id, e.Type, e.Recipient, e.OccurredAt, e.Relay, e.Attempt,
        SmtpReplyResponse.From(e.SmtpCode, e.EnhancedCode, e.SmtpText), e.Reason, e.NextAttemptAt);
}
