using System.Text;
using EmailPlatform.Contracts;
using EmailPlatform.Delivery.Sending;
using EmailPlatform.Delivery.Tests.Support;
using MimeKit;

namespace EmailPlatform.Delivery.Tests.Sending;

public sealed class MimeMessageFactoryTests
{
    [Fact]
    public void MessageIdIsTheOneFixedAtAcceptAndTheSameOnEveryBuild()
    {
        var email = TestEmails.Create();

        var first = MimeMessageFactory.Create(email);
        var second = MimeMessageFactory.Create(email);

        Assert.Equal(email.MessageId, first.MessageId);
        Assert.Equal(first.MessageId, second.MessageId);
        Assert.Equal($"<{email.MessageId}>", first.Headers[HeaderId.MessageId]?.Trim());
    }

    [Fact]
    public void BlindRecipientsAreNeverInTheHeaders()
    {
        var email = TestEmails.Create(bcc: ["hidden@example.com"], headers: new Dictionary<string, string> { ["Bcc"] = "sneaky@example.com" });

        var message = MimeMessageFactory.Create(email);
        var raw = Render(message);

        Assert.DoesNotContain(message.Headers, h => h.Id == HeaderId.Bcc);
        Assert.DoesNotContain("hidden@example.com", raw, StringComparison.Ordinal);
        Assert.DoesNotContain("sneaky@example.com", raw, StringComparison.Ordinal);
    }

    [Fact]
    public void AddressHeadersSubjectDateAndEmailIdComeFromTheCommand()
    {
        var email = TestEmails.Create(to: ["Alice <alice@example.com>", "bob@example.com"], cc: ["carol@example.com"]);

        var message = MimeMessageFactory.Create(email);

        Assert.Equal("billing@acme.example", Assert.Single(message.From.Mailboxes).Address);
        Assert.Equal("Acme Billing", message.From.Mailboxes.Single().Name);
        Assert.Equal(["alice@example.com", "bob@example.com"], message.To.Mailboxes.Select(m => m.Address));
        Assert.Equal("Alice", message.To.Mailboxes.First().Name);
        Assert.Equal(["carol@example.com"], message.Cc.Mailboxes.Select(m => m.Address));
        Assert.Equal(["support@acme.example"], message.ReplyTo.Mailboxes.Select(m => m.Address));
        Assert.Equal("Your receipt", message.Subject);
        Assert.Equal(email.AcceptedAt, message.Date);
        Assert.Equal(email.EmailId.ToString(), message.Headers[MimeMessageFactory.EmailIdHeader]);
    }

    [Fact]
    public void AScheduledEmailIsDatedItsScheduledTimeNotItsAcceptanceOnEveryBuild()
    {
        var email = TestEmails.Create();
        var scheduled = email with { ScheduledAt = email.AcceptedAt.AddDays(7) };

        var first = MimeMessageFactory.Create(scheduled);
        var again = MimeMessageFactory.Create(scheduled);

        Assert.Equal(scheduled.ScheduledAt, first.Date);
        Assert.Equal(first.Headers[HeaderId.Date], again.Headers[HeaderId.Date]);
        Assert.Equal(email.AcceptedAt, MimeMessageFactory.Create(email).Date);
    }

    [Fact]
    public void ARawMessageKeepsItsOwnDateWhenScheduled()
    {
        var raw = "From: billing@acme.example\r\nTo: alice@example.com\r\nDate: Tue, 01 Dec 2026 09:30:00 +0100\r\n" +
            "Message-ID: <raw@acme.example>\r\nSubject: Raw\r\n\r\nHello\r\n";
        var email = TestEmails.Create() with { RawMessage = Encoding.ASCII.GetBytes(raw), ScheduledAt = new DateTimeOffset(2026, 12, 8, 9, 30, 0, TimeSpan.Zero) };

        var message = MimeMessageFactory.Create(email);

        Assert.Equal("Tue, 01 Dec 2026 09:30:00 +0100", message.Headers[HeaderId.Date]?.Trim());
    }

    [Fact]
    public void ARawMessageWithoutADateIsDatedWhenItWasDueTheSameOnEveryBuildAndOtherwiseUnchanged()
    {
        const string headers = "From: billing@acme.example\r\nTo: alice@example.com\r\nMessage-ID: <raw@acme.example>\r\nSubject: Raw\r\n";
        var email = TestEmails.Create() with { RawMessage = Encoding.ASCII.GetBytes(headers + "\r\nHello\r\n") };
        var scheduled = email with { ScheduledAt = email.AcceptedAt.AddDays(7) };

        var message = MimeMessageFactory.Create(scheduled);

        Assert.Equal(scheduled.ScheduledAt, message.Date);
        Assert.Equal(message.Headers[HeaderId.Date], MimeMessageFactory.Create(scheduled).Headers[HeaderId.Date]);
        Assert.Equal(email.AcceptedAt, MimeMessageFactory.Create(email).Date);
        // As the SMTP client writes it: CRLF line ends.
        using var sent = new MemoryStream();
        message.WriteTo(new FormatOptions { NewLineFormat = NewLineFormat.Dos }, sent);
        var rendered = Encoding.ASCII.GetString(sent.ToArray());
        Assert.StartsWith(headers + "Date: ", rendered, StringComparison.Ordinal);
        Assert.EndsWith("\r\n\r\nHello\r\n", rendered, StringComparison.Ordinal);
    }

    [Fact]
    public void ARawMessageCarriesItsEmailsIdInPlaceOfOneItCameWith()
    {
        const string headers = "From: billing@acme.example\r\nTo: alice@example.com\r\nDate: Tue, 01 Dec 2026 09:30:00 +0100\r\n" +
            "Message-ID: <raw@acme.example>\r\nSubject: Raw\r\n";
        var email = TestEmails.Create() with { RawMessage = Encoding.ASCII.GetBytes(headers + "X-Email-Id: 00000000-0000-0000-0000-000000000001\r\n\r\nHello\r\n") };

        var message = MimeMessageFactory.Create(email);

        Assert.Equal([email.EmailId.ToString()], message.Headers.Where(h => h.Field == MimeMessageFactory.EmailIdHeader).Select(h => h.Value.Trim()));
        using var sent = new MemoryStream();
        message.WriteTo(new FormatOptions { NewLineFormat = NewLineFormat.Dos }, sent);
        // The client's headers and body as they came, the id after them.
        Assert.Equal(headers + $"X-Email-Id: {email.EmailId}\r\n\r\nHello\r\n", Encoding.ASCII.GetString(sent.ToArray()));
    }

    [Fact]
    public void CustomHeadersAreAddedButPlatformHeadersCannotBeOverridden()
    {
        var email = TestEmails.Create(headers: new Dictionary<string, string>
        {
            ["List-Unsubscribe"] = "<mailto:unsubscribe@acme.example>",
            ["X-Entity-Ref-ID"] = "123",
            ["Message-ID"] = "<forged@evil.example>",
            ["From"] = "forged@evil.example",
        });

        var message = MimeMessageFactory.Create(email);

        Assert.Equal("<mailto:unsubscribe@acme.example>", message.Headers["List-Unsubscribe"]);
        Assert.Equal("123", message.Headers["X-Entity-Ref-ID"]);
        Assert.Equal(email.MessageId, message.MessageId);
        Assert.Single(message.Headers, h => h.Id == HeaderId.MessageId);
        Assert.Equal("billing@acme.example", Assert.Single(message.From.Mailboxes).Address);
    }

    [Fact]
    public void HeaderWithLineBreakIsRefusedRatherThanSent()
    {
        var email = TestEmails.Create(headers: new Dictionary<string, string> { ["X-Note"] = "a\r\nBcc: victim@example.com" });

        Assert.Throws<FormatException>(() => MimeMessageFactory.Create(email));
    }

    [Fact]
    public void HtmlAndTextBecomeMultipartAlternative()
    {
        var message = MimeMessageFactory.Create(TestEmails.Create());

        var alternative = Assert.IsType<MultipartAlternative>(message.Body);
        Assert.Equal("Hello there", alternative.TextBody?.Trim());
        Assert.Equal("<p>Hello <b>there</b></p>", alternative.HtmlBody?.Trim());
    }

    [Fact]
    public void TextOnlyIsASingleTextPart()
    {
        var message = MimeMessageFactory.Create(TestEmails.Create(html: null));

        var part = Assert.IsType<TextPart>(message.Body);
        Assert.True(part.IsPlain);
    }

    [Fact]
    public void AttachmentsAreAttachedAndInlinePartsSitWithTheHtml()
    {
        var logo = new EmailAttachment("logo.png", "image/png", "logo", [0x89, 0x50, 0x4E, 0x47]);
        var invoice = new EmailAttachment("invoice.pdf", "application/pdf", null, Encoding.ASCII.GetBytes("%PDF-1.7"));
        var email = TestEmails.Create(html: "<img src=\"cid:logo\">", attachments: [logo, invoice]);

        var message = MimeMessageFactory.Create(email);

        var mixed = Assert.IsType<Multipart>(message.Body);
        Assert.Equal("mixed", mixed.ContentType.MediaSubtype);
        var attachment = Assert.Single(message.Attachments.OfType<MimePart>());
        Assert.Equal("invoice.pdf", attachment.FileName);
        Assert.Equal("application/pdf", attachment.ContentType.MimeType);

        var related = Assert.Single(Walk(message.Body).OfType<MultipartRelated>());
        Assert.Contains(related, p => p is TextPart { IsHtml: true });
        var inline = Assert.Single(related.OfType<MimePart>(), p => p.ContentId == "logo");
        Assert.DoesNotContain(mixed, p => p.ContentId == "logo");
        Assert.Equal("image/png", inline.ContentType.MimeType);
        Assert.Contains("Content-Id: <logo>", Render(message), StringComparison.OrdinalIgnoreCase);
    }

    [Theory]
    [InlineData("cid:logo.png")]
    [InlineData("a:b.png")]
    public void AnInlinePartWhoseFileNameReadsAsAUriKeepsItsNameWithoutAContentLocation(string fileName)
    {
        var logo = new EmailAttachment(fileName, "image/png", "logo", [0x89, 0x50, 0x4E, 0x47]);
        var email = TestEmails.Create(html: "<img src=\"cid:logo\">", attachments: [logo]);

        var message = MimeMessageFactory.Create(email);

        Assert.NotNull(message.Body);
        var related = Assert.Single(Walk(message.Body).OfType<MultipartRelated>());
        var inline = Assert.Single(related.OfType<MimePart>(), p => p.ContentId == "logo");
        Assert.Equal(fileName, inline.FileName);
        Assert.Equal(fileName, inline.ContentType.Name);
        Assert.Null(inline.ContentLocation);
    }

    [Fact]
    public void AnInlinePartWithAnOrdinaryFileNameKeepsItsContentLocation()
    {
        var logo = new EmailAttachment("logo.png", "image/png", "logo", [0x89, 0x50, 0x4E, 0x47]);

        var message = MimeMessageFactory.Create(TestEmails.Create(html: "<img src=\"cid:logo\">", attachments: [logo]));

        Assert.NotNull(message.Body);
        var inline = Assert.Single(Walk(message.Body).OfType<MimePart>(), p => p.ContentId == "logo");
        Assert.Equal("logo.png", inline.ContentLocation?.OriginalString);
        Assert.Equal("logo.png", inline.FileName);
    }

    private static IEnumerable<MimeEntity> Walk(MimeEntity entity) =>
        entity is Multipart multipart ? [entity, .. multipart.SelectMany(Walk)] : [entity];

    private static string Render(MimeMessage message)
    {
        using var stream = new MemoryStream();
        message.WriteTo(stream);
        return Encoding.UTF8.GetString(stream.ToArray());
    }
}
