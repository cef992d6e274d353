using EmailPlatform.Contracts;

namespace EmailPlatform.Delivery.Tests.Support;

internal static class TestEmails
{
    public static SendEmail Create(
        IReadOnlyList<string>? to = null,
        IReadOnlyList<string>? cc = null,
        IReadOnlyList<string>? bcc = null,
        string? html = "<p>Hello <b>there</b></p>",
        string? text = "Hello there",
        IReadOnlyList<EmailAttachment>? attachments = null,
        IReadOnlyDictionary<string, string>? headers = null,
        string subject = "Your receipt")
    {
        to ??= ["alice@example.com"];
        cc ??= [];
        bcc ??= [];
        var id = Guid.CreateVersion7();
        return new SendEmail(
            EmailId: id,
            MessageId: $"{id:N}@emailplatform.local",
            Envelope: new Envelope("bounces@emailplatform.local", [.. to, .. cc, .. bcc]),
            From: "Acme Billing <billing@acme.example>",
            To: to,
            Cc: cc,
            ReplyTo: ["support@acme.example"],
            Subject: subject,
            Html: html,
            Text: text,
            Headers: headers ?? new Dictionary<string, string>(),
            Attachments: attachments ?? [],
            Tags: [new EmailTag("category", "receipt")],
            Metadata: new Dictionary<string, string>(),
            Priority: EmailPriority.Normal,
            AcceptedAt: new DateTimeOffset(2025, 1, 2, 3, 4, 5, TimeSpan.Zero));
    }
}
