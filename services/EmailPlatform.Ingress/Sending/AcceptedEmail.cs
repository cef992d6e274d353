using EmailPlatform.Contracts;
using MimeKit;

namespace EmailPlatform.Ingress.Sending;

/// <summary>Turns a validated request into the <see cref="SendEmail"/> command, fixing its id and Message-ID once.</summary>
internal static class AcceptedEmail
{
    public static SendEmail Create(SendEmailRequest request, ValidatedEmail email, string? messageIdDomain, TimeProvider clock)
    {
        var id = Guid.CreateVersion7();
        var domain = messageIdDomain ?? email.From.Domain;
        var rcptTo = email.To.Concat(email.Cc).Concat(email.Bcc)
            .Select(m => m.Address)
            .Distinct(StringComparer.OrdinalIgnoreCase)
            .ToList();

        return new SendEmail(
            EmailId: id,
            MessageId: $"{id:N}@{domain}",
            Envelope: new Envelope(email.From.Address, rcptTo),
            From: email.From.ToString(),
            To: Format(email.To),
            Cc: Format(email.Cc),
            ReplyTo: Format(email.ReplyTo),
            Subject: request.Subject!,
            Html: request.Html,
            Text: request.Text,
            Headers: request.Headers ?? new Dictionary<string, string>(),
            Attachments: email.Attachments,
            Tags: (request.Tags ?? []).Select(t => new EmailTag(t.Name!, t.Value!)).ToList(),
            Metadata: request.Metadata ?? new Dictionary<string, string>(),
            Priority: request.Priority ?? EmailPriority.Normal,
            AcceptedAt: clock.GetUtcNow());
    }

    public static IReadOnlyList<string> Format(IEnumerable<MailboxAddress> mailboxes) =>
        mailboxes.Select(m => m.ToString()).ToList();
}
