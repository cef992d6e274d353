using EmailPlatform.Testing;
using EmailPlatform.Delivery.Relays;
using EmailPlatform.Delivery.Sending;
using EmailPlatform.Delivery.Smtp;
using EmailPlatform.Delivery.Tests.Support;

namespace EmailPlatform.Delivery.Tests.Smtp;

/// <summary>
/// Against Postfix's real <c>smtp-sink</c> at <c>EMAILPLATFORM_TEST_SMTP_SINK</c> (default 127.0.0.1:2526, started by
/// <c>build.sh test</c>). Fails, never skips, when the sink is not there.
/// </summary>
public sealed class SmtpSinkTests
{
    [Fact]
    public async Task PostfixSmtpSinkAcceptsEveryRecipientWithA2xxReply()
    {
        var (host, port) = TestInfrastructure.SmtpSink;
        var relay = new RelayOptions { Name = "smtp-sink", Host = host, Port = port, Security = RelaySecurity.None };
        var email = TestEmails.Create(to: ["alice@example.com", "bob@example.com"], cc: ["carol@example.com"], bcc: ["dave@example.com"]);

        var outcomes = await TestRelays.Client().SendAsync(relay, MimeMessageFactory.Create(email), email.Envelope, new SmtpAttempt(email.EmailId), CancellationToken.None);

        Assert.Equal(4, outcomes.Count);
        Assert.All(outcomes, o =>
        {
            Assert.True(o.Kind == RecipientOutcomeKind.Delivered, $"{o.Recipient}: {o.Kind} ({o.Reason}) — is smtp-sink listening on {host}:{port}?");
            Assert.InRange(o.Reply!.Code, 200, 299);
        });
    }
}
