using EmailPlatform.Contracts;

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
            From: request.From!.Trim(),
            To: Trimmed(request.To),
            Cc: Trimmed(request.Cc),
            ReplyTo: Trimmed(request.ReplyTo),
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

    /// <summary>Addresses as the client wrote them (validated already), for headers and for display.</summary>
    public static IReadOnlyList<string> Trimmed(IReadOnlyList<string>? addresses) =>
        addresses?.Select(a => a.Trim()).ToList() ?? [];
}
