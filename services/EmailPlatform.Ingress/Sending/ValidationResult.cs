using EmailPlatform.Contracts;
using MimeKit;

namespace EmailPlatform.Ingress.Sending;

/// <summary>A request that passed validation, with its addresses parsed and its attachments decoded.</summary>
internal sealed record ValidatedEmail(
    MailboxAddress From,
    IReadOnlyList<MailboxAddress> To,
    IReadOnlyList<MailboxAddress> Cc,
    IReadOnlyList<MailboxAddress> Bcc,
    IReadOnlyList<MailboxAddress> ReplyTo,
    IReadOnlyList<EmailAttachment> Attachments,
    DateTimeOffset? ScheduledAt,
    DateTimeOffset? ExpiresAt);

internal sealed record ValidationResult(ValidatedEmail? Email, IDictionary<string, string[]> Errors, string ProblemName)
{
    public static ValidationResult Valid(ValidatedEmail email) => new(email, new Dictionary<string, string[]>(), "");

    public static ValidationResult Invalid(IDictionary<string, string[]> errors, string problemName) => new(null, errors, problemName);
}
