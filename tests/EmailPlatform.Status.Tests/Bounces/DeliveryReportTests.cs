using System.Text;
using EmailPlatform.Status.Bounces;
using EmailPlatform.Status.Tests.Support;
using MimeKit;
using static EmailPlatform.Status.Tests.Support.BounceReports;

namespace EmailPlatform.Status.Tests.Bounces;

/// <summary>What <see cref="DeliveryReport"/> reads from the delivery status notifications MTAs write.</summary>
public sealed class DeliveryReportTests
{
    private const string OriginalId = "0193a4b2c5d67e8f9a0b1c2d3e4f5a6b@acme.test";

    [Fact]
    public void APostfixReportGivesItsMtaTheReturnedHeadersMessageIdAndEachRecipientsReplyUnfolded()
    {
        var report = Read(Postfix(OriginalId,
            new Group("alice@example.com", "failed", "5.1.1",
                "smtp; 550 5.1.1 <alice@example.com>: Recipient address\n    rejected: User unknown in virtual mailbox table"),
            new Group("bob@example.com", "delivered", "2.0.0", "smtp; 250 2.0.0 Ok: queued as 9B1F"),
            new Group("carol@example.com", "delayed", "4.4.1", "X-Postfix; connect to mail.example.com[203.0.113.5]:25: Connection timed out")));

        Assert.Equal("mx.example.net", report.ReportingMta);
        Assert.Equal("20261205101502.4F2A1C0042@mx.example.net", report.ReportId);
        Assert.Equal([OriginalId], report.OriginalMessageIds);
        Assert.Equal(3, report.Recipients.Count);

        var alice = report.Recipients[0];
        Assert.Equal(("alice@example.com", "failed", "5.1.1", true), (alice.FinalRecipient, alice.Action, alice.Status, alice.Failed));
        Assert.NotNull(alice.Reply);
        Assert.Equal(550, alice.Reply.Code);
        Assert.Equal("5.1.1", alice.Reply.EnhancedCode);
        Assert.Equal("<alice@example.com>: Recipient address rejected: User unknown in virtual mailbox table", alice.Reply.Text);
        Assert.Equal("mail.example.com", alice.RemoteMta);

        Assert.False(report.Recipients[1].Failed);
        var carol = report.Recipients[2];
        Assert.Equal(("delayed", "4.4.1", false), (carol.Action, carol.Status, carol.Failed));
        Assert.Null(carol.Reply); // not an smtp diagnostic: nothing to read a reply code from
        Assert.Equal("connect to mail.example.com[203.0.113.5]:25: Connection timed out", carol.Diagnostic);
    }

    [Fact]
    public void AMicrosoft365ReportIsReadThroughItsHtmlExplanationAndReturnedMessage()
    {
        var report = Read(Microsoft365(OriginalId, "bob@contoso.example",
            "smtp;550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup"));

        Assert.Equal("AM0PR01MB1234.eurprd01.prod.exchangelabs.com", report.ReportingMta);
        Assert.Equal(OriginalId, report.OriginalMessageIds[0]); // the returned message's; In-Reply-To and References name the same
        Assert.Single(report.OriginalMessageIds);
        var bob = Assert.Single(report.Recipients);
        Assert.Equal(("bob@contoso.example", "bob@contoso.example", "5.1.10"), (bob.FinalRecipient, bob.OriginalRecipient, bob.Status));
        Assert.Equal(550, bob.Reply!.Code);
        Assert.Equal("5.1.10", bob.Reply.EnhancedCode);
        Assert.Equal("RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup", bob.Reply.Text);
    }

    [Fact]
    public void AGmailReportsMultiLineReplyIsOneReplyAndItsOriginalMessageIdFieldIsRead()
    {
        var report = Read(Gmail(OriginalId, "carol@gmail.example"));

        Assert.Equal("googlemail.com", report.ReportingMta);
        Assert.Equal([OriginalId], report.OriginalMessageIds);
        var carol = Assert.Single(report.Recipients);
        Assert.Equal(550, carol.Reply!.Code);
        Assert.Equal("5.1.1", carol.Reply.EnhancedCode);
        Assert.StartsWith("The email account that you tried to reach does not exist. Please try 550-5.1.1 double-checking", carol.Reply.Text, StringComparison.Ordinal);
        Assert.EndsWith("- gsmtp", carol.Reply.Text, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("smtp; 550 Requested action not taken: mailbox unavailable", 550, "5.1.1", "Requested action not taken: mailbox unavailable")]
    [InlineData("SMTP; 554-5.7.1 Message rejected", 554, "5.7.1", "Message rejected")]
    [InlineData("smtp; 552 5.2.2 Mailbox full", 552, "5.2.2", "Mailbox full")]
    public void AnSmtpDiagnosticsEnhancedCodeIsTheReplysOwnOrElseTheReportsStatus(string diagnostic, int code, string enhanced, string text)
    {
        var report = Read(Postfix(OriginalId, new Group("dave@example.com", "failed", "5.1.1", diagnostic)));

        var reply = Assert.Single(report.Recipients).Reply;
        Assert.Equal((code, enhanced, text), (reply!.Code, reply.EnhancedCode, reply.Text));
    }

    [Fact]
    public void AReportReturningNothingOfTheMessageNamesTheEmailByTheEnvelopeSenderItWasDeliveredTo()
    {
        var emailId = Guid.NewGuid();

        var report = Read(WithoutTheMessage($"bounces+{emailId:N}@bounce.acme.test", "gina@small-isp.example"));

        Assert.Empty(report.OriginalMessageIds);
        Assert.Equal([emailId], report.ReturnPathEmailIds);
        Assert.Empty(Read(Postfix(OriginalId, new Group("gina@small-isp.example", "failed", "5.1.1"))).ReturnPathEmailIds); // sent to bounces@acme.test
    }

    [Fact]
    public void TheEmailIdHeaderOfTheReturnedMessageNamesTheEmailWhateverItsMessageId()
    {
        var emailId = Guid.NewGuid();
        var text = Postfix("report-2026-11@acme.test", new Group("gina@small-isp.example", "failed", "5.1.1"))
            .Replace("Message-ID: <report-2026-11@acme.test>", $"Message-ID: <report-2026-11@acme.test>\r\nX-Email-Id: {emailId}", StringComparison.Ordinal);

        var report = Read(text);

        Assert.Equal([emailId], report.HeaderEmailIds);
        Assert.Equal([emailId], report.Keys.CandidateIds); // the Message-ID is not one of ours: it names no id
        Assert.Empty(Read(Postfix(OriginalId, new Group("gina@small-isp.example", "failed", "5.1.1"))).HeaderEmailIds);
    }

    [Fact]
    public void AGroupWithoutARecipientActionOrStatusIsLeftOut()
    {
        var report = Read(Postfix(OriginalId,
            new Group("erin@example.com", "failed", "not a code"),
            new Group("frank@example.com", "failed", "5.1.1")));

        Assert.Equal(["frank@example.com"], report.Recipients.Select(r => r.FinalRecipient));
    }

    [Fact]
    public void AMessageThatIsNotADeliveryReportIsNone()
    {
        var reply = new MimeMessage();
        reply.From.Add(new MailboxAddress("Alice", "alice@example.com"));
        reply.Subject = "Re: Your receipt";
        reply.InReplyTo = OriginalId;
        reply.Body = new Multipart("mixed") { new TextPart("plain") { Text = "Out of office until Monday." } };

        Assert.Null(DeliveryReport.Read(reply));
        Assert.Null(DeliveryReport.Read(new MimeMessage { Body = new TextPart("plain") { Text = "Delivery failed: user unknown" } }));
    }

    internal static DeliveryReport Read(string text)
    {
        using var stream = new MemoryStream(Encoding.UTF8.GetBytes(text));
        var report = DeliveryReport.Read(MimeMessage.Load(stream));
        Assert.NotNull(report);
        return report;
    }
}
