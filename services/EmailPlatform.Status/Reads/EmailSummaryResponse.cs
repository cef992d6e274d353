using EmailPlatform.Contracts;
using EmailPlatform.Status.Storage;

namespace EmailPlatform.Status.Reads;

/// <summary>An item of <c>GET /v1/emails</c>: the email object of <c>GET /v1/emails/{id}</c> without bodies, recipients or timeline.</summary>
public sealed record EmailSummaryResponse(
    string Object,
    Guid Id,
    string? From,
    IReadOnlyList<string> To,
    IReadOnlyList<string>? Cc,
    IReadOnlyList<string>? Bcc,
    IReadOnlyList<string>? ReplyTo,
    string? Subject,
    DateTime? CreatedAt,
    DateTime? ScheduledAt,
    string LastEvent,
    IReadOnlyList<EmailTag> Tags,
    string? MessageId,
    string Status,
    IReadOnlyDictionary<string, string> Metadata)
{
    public static EmailSummaryResponse Create(EmailRecord email) => new(
        "email", email.Id, email.From, email.To, NullIfEmpty(email.Cc), NullIfEmpty(email.Bcc), NullIfEmpty(email.ReplyTo),
        email.Subject, email.AcceptedAt, email.ScheduledAt, email.LastEvent(), email.Tags, email.MessageId,
        email.State.ToWire(), email.Metadata);

    private static IReadOnlyList<string>? NullIfEmpty(List<string> values) => values.Count == 0 ? null : values;
}

/// <summary>Resend's list shape, plus <c>next_cursor</c> to pass as <c>cursor</c> for the next page (null on the last).</summary>
public sealed record EmailListResponse(string Object, bool HasMore, IReadOnlyList<EmailSummaryResponse> Data, string? NextCursor);
