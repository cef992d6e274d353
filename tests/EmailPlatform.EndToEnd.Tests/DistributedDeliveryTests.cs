using EmailPlatform.Testing;
using MimeKit;
using SmtpServer.Protocol;

namespace EmailPlatform.EndToEnd.Tests;

/// <summary>
/// The whole path in distributed mode, over real sockets: HTTP into the ingress, its outbox in PostgreSQL,
/// RabbitMQ to a delivery worker, SMTP to a relay, RabbitMQ back to the status service, PostgreSQL, and
/// the status read through the ingress's URL.
/// </summary>
public sealed class DistributedDeliveryTests
{
    // Three service processes, PostgreSQL and RabbitMQ share two cores with the rest of the test run.
    private static readonly TimeSpan DeliveryTimeout = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task EmailPostedToIngressArrivesAtTheRelayAndIsReportedDelivered()
    {
        await using var relay = await ScriptedSmtpServer.StartAsync();
        await using var platform = await DistributedPlatform.StartAsync("127.0.0.1", relay.Port);
        using var client = platform.CreateClient();

        var id = await EmailApi.SendAsync(client, new
        {
            from = "Acme Orders <orders@acme.test>",
            to = new[] { "alice@example.test" },
            cc = "carol@example.test",
            bcc = new[] { "bob@example.test" },
            reply_to = "support@acme.test",
            subject = "Your order #1234",
            text = "Thanks for your order.",
            html = "<p>Thanks for your <b>order</b>.</p>",
        });

        var email = await EmailApi.WaitForFinalStateAsync(client, id, DeliveryTimeout);

        Assert.True(email!["status"]!.GetValue<string>() == "delivered", platform.Logs);
        Assert.Equal("delivered", email["last_event"]!.GetValue<string>());
        Assert.Equal(id, email["id"]!.GetValue<string>());
        Assert.Equal("Your order #1234", email["subject"]!.GetValue<string>());
        var recipients = email["recipients"]!.AsArray();
        Assert.Equal(3, recipients.Count);
        Assert.All(recipients, r =>
        {
            Assert.Equal("delivered", r!["status"]!.GetValue<string>());
            Assert.Equal(250, r["last_reply"]!["code"]!.GetValue<int>());
        });
        Assert.Contains(email["events"]!.AsArray(), e => e!["type"]!.GetValue<string>() == "email.queued");
        Assert.Equal(3, email["events"]!.AsArray().Count(e => e!["type"]!.GetValue<string>() == "email.delivered"
            && e["relay"]!.GetValue<string>() == "test-relay"));

        var received = Assert.Single(relay.Received);
        Assert.Equal("orders@acme.test", received.MailFrom);
        Assert.Equal(["alice@example.test", "bob@example.test", "carol@example.test"], received.RcptTo.Order(StringComparer.Ordinal));

        var message = MimeMessage.Load(new MemoryStream(received.Raw));
        Assert.Equal("Your order #1234", message.Subject);
        Assert.Equal(email["message_id"]!.GetValue<string>(), message.MessageId);
        Assert.Equal("orders@acme.test", message.From.Mailboxes.Single().Address);
        Assert.Equal("Acme Orders", message.From.Mailboxes.Single().Name);
        Assert.Equal("carol@example.test", message.Cc.Mailboxes.Single().Address);
        Assert.Equal("support@acme.test", message.ReplyTo.Mailboxes.Single().Address);
        Assert.Null(message.Headers[HeaderId.Bcc]);
        Assert.Equal("Thanks for your order.", message.TextBody?.Trim());
        Assert.Contains("<b>order</b>", message.HtmlBody, StringComparison.Ordinal);
    }

    [Fact]
    public async Task EmailRelayedToPostfixSmtpSinkIsReportedDeliveredWithItsReply()
    {
        var (host, port) = TestInfrastructure.SmtpSink;
        await using var platform = await DistributedPlatform.StartAsync(host, port);
        using var client = platform.CreateClient();

        var id = await EmailApi.SendAsync(client, new
        {
            from = "noreply@acme.test",
            to = "someone@example.test",
            subject = "Through Postfix",
            text = "Hello from the end-to-end test.",
        });

        var email = await EmailApi.WaitForFinalStateAsync(client, id, DeliveryTimeout);

        Assert.True(email!["status"]!.GetValue<string>() == "delivered", platform.Logs);
        var reply = email["recipients"]![0]!["last_reply"]!;
        Assert.Equal(250, reply["code"]!.GetValue<int>());
        Assert.False(string.IsNullOrWhiteSpace(reply["text"]!.GetValue<string>()));
    }

    [Fact]
    public async Task RecipientRejectedByTheRelayBouncesWhileTheOthersAreDelivered()
    {
        await using var relay = await ScriptedSmtpServer.StartAsync();
        relay.RcptReplies["gone@example.test"] = new SmtpResponse(SmtpReplyCode.MailboxUnavailable, "5.1.1 No such user here");
        await using var platform = await DistributedPlatform.StartAsync("127.0.0.1", relay.Port);
        using var client = platform.CreateClient();

        var id = await EmailApi.SendAsync(client, new
        {
            from = "noreply@acme.test",
            to = new[] { "alice@example.test", "gone@example.test" },
            subject = "One of two",
            text = "Hello.",
        });

        var email = await EmailApi.WaitForFinalStateAsync(client, id, DeliveryTimeout);

        Assert.True(email!["status"]!.GetValue<string>() == "bounced", platform.Logs);
        Assert.Equal("bounced", email["last_event"]!.GetValue<string>());
        var recipients = email["recipients"]!.AsArray().ToDictionary(r => r!["email"]!.GetValue<string>());
        Assert.Equal("delivered", recipients["alice@example.test"]!["status"]!.GetValue<string>());
        var gone = recipients["gone@example.test"]!;
        Assert.Equal("bounced", gone["status"]!.GetValue<string>());
        Assert.Equal(550, gone["last_reply"]!["code"]!.GetValue<int>());
        Assert.Equal("5.1.1", gone["last_reply"]!["enhanced_code"]!.GetValue<string>());

        var received = Assert.Single(relay.Received);
        Assert.Equal(["alice@example.test"], received.RcptTo);
    }
}
