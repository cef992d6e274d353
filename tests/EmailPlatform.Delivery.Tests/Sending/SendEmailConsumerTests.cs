using EmailPlatform.Contracts;
using EmailPlatform.Delivery.Lanes;
using EmailPlatform.Delivery.Sending;
using EmailPlatform.Delivery.Tests.Support;
using EmailPlatform.ServiceDefaults.Storage;
using EmailPlatform.Testing;
using MassTransit;
using MassTransit.Testing;
using SmtpServer.Protocol;

namespace EmailPlatform.Delivery.Tests.Sending;

/// <summary>The consumer as the bus runs it (MassTransit test harness), sending to a scripted SMTP relay.</summary>
public sealed class SendEmailConsumerTests : IAsyncLifetime
{
    private ScriptedSmtpServer _relay = null!;

    public async Task InitializeAsync() => _relay = await ScriptedSmtpServer.StartAsync();

    public async Task DisposeAsync() => await _relay.DisposeAsync();

    [Fact]
    public async Task SendEmailPublishesOneOutcomeEventPerRecipient()
    {
        _relay.RcptReplies["nobody@example.com"] = new SmtpResponse((SmtpReplyCode)550, "5.1.1 User unknown");
        _relay.RcptReplies["busy@example.com"] = new SmtpResponse((SmtpReplyCode)451, "4.2.0 Mailbox busy");
        var email = TestEmails.Create(to: ["alice@example.com", "nobody@example.com"], bcc: ["busy@example.com"]);
        await using var host = await DeliveryHost.StartAsync(_relay.Port);
        var harness = host.Harness;

        await host.SendAsync(email);

        Assert.True(await harness.GetConsumerHarness<SendEmailConsumer<NormalLane>>().Consumed.Any<SendEmail>());
        var delivered = Assert.Single(harness.Published.Select<EmailDelivered>()).Context.Message;
        var bounced = Assert.Single(harness.Published.Select<EmailBounced>()).Context.Message;
        var deferred = Assert.Single(harness.Published.Select<EmailDeferred>()).Context.Message;

        Assert.Equal(("alice@example.com", email.EmailId, "scripted", 1, 250), (delivered.Recipient, delivered.EmailId, delivered.Relay, delivered.Attempt, delivered.Reply.Code));
        Assert.Equal(("nobody@example.com", "5.1.1"), (bounced.Recipient, bounced.Reply.EnhancedCode));
        Assert.Equal(("busy@example.com", 451), (deferred.Recipient, deferred.Reply?.Code));
        Assert.Equal(deferred.Timestamp + TimeSpan.FromMinutes(1), deferred.NextAttemptAt);
        Assert.NotEqual(delivered.EventId, bounced.EventId);
        Assert.False(await harness.Published.Any<Fault<SendEmail>>());
    }

    [Fact]
    public async Task MalformedCommandFaultsInsteadOfBeingSwallowed()
    {
        var email = TestEmails.Create(headers: new Dictionary<string, string> { ["X-Note"] = "a\r\nBcc: victim@example.com" });
        await using var host = await DeliveryHost.StartAsync(_relay.Port);
        var harness = host.Harness;

        await host.SendAsync(email);

        Assert.True(await harness.Published.Any<Fault<SendEmail>>());
        var failed = await host.WaitForAsync<EmailFailed>(f => f.Count == 1, "EmailFailed for the one recipient");
        Assert.Equal((email.EmailId, "alice@example.com"), (failed[0].EmailId, failed[0].Recipient));
        Assert.Equal("The message is malformed and cannot be sent.", failed[0].Reason);
        Assert.False(await harness.Published.Any<EmailDelivered>());
        Assert.Empty(_relay.Received);
    }

    [Fact]
    public async Task CommandThatFaultedOnlyBecauseTheStoreStayedDownGoesBackIntoItsLaneAndNothingFails()
    {
        var email = TestEmails.Create();
        await using var host = await DeliveryHost.StartAsync(_relay.Port);

        // What the lane's endpoint publishes once StoreOutageRetry gives up (after about 23 minutes of outage).
        await host.Harness.Bus.Publish<Fault<SendEmail>>(new MassTransit.Events.FaultEvent<SendEmail>(
            email, NewId.NextGuid(), MassTransit.Metadata.HostMetadataCache.Host, new StoreUnavailableException(new TimeoutException("The store did not answer.")), []));

        var delivered = await host.WaitForAsync<EmailDelivered>(d => d.Count >= 1, "the command, back in its lane, delivered");
        Assert.Equal((email.EmailId, 1), (Assert.Single(delivered).EmailId, delivered[0].Attempt));
        Assert.Empty(host.Published<EmailFailed>());
        Assert.Single(_relay.Received);
    }

    [Fact]
    public async Task CommandFaultingOnItsOwnEnvelopeDoesNotOpenTheRelaysBreakerForTheNextEmail()
    {
        // A breaker that opens at the first failure: a malformed envelope must not count as one of the relay's.
        await using var host = await DeliveryHost.StartAsync(_relay.Port, settings: new Dictionary<string, string?> { ["Delivery:BreakerFailureThreshold"] = "1" });
        var malformed = TestEmails.Create() with { Envelope = new Envelope("not an address", ["alice@example.com"]) };
        await host.SendAsync(malformed);
        await host.WaitForAsync<EmailFailed>(f => f.Count == 1, "the malformed command's failure");

        var good = TestEmails.Create(to: ["bob@example.com"]);
        await host.SendAsync(good);

        var delivered = Assert.Single(await host.WaitForAsync<EmailDelivered>(d => d.Count == 1, "the next email delivered"));
        Assert.Equal(good.EmailId, delivered.EmailId);
        Assert.Empty(host.Published<EmailDeferred>());
    }

    [Fact]
    public async Task FaultedCommandMarksEveryEnvelopeRecipientFailedOnce()
    {
        var email = TestEmails.Create(to: ["alice@example.com", "ALICE@example.com"], bcc: ["bob@example.com"]) with
        {
            Envelope = new Envelope("not an address", ["alice@example.com", "ALICE@example.com", "bob@example.com"]),
        };
        await using var host = await DeliveryHost.StartAsync(_relay.Port);

        await host.SendAsync(email);

        await host.WaitForAsync<EmailFailed>(f => f.Count >= 2, "EmailFailed per recipient");
        // The fault consumer has finished with the command's fault: every outcome it publishes for it is out by now.
        Assert.True(await host.Harness.GetConsumerHarness<SendEmailFaultConsumer>().Consumed.Any<Fault<SendEmail>>(m => m.Exception is null));
        var failed = host.Published<EmailFailed>();
        Assert.Equal(["alice@example.com", "bob@example.com"], failed.Select(f => f.Recipient).Order());
        Assert.Empty(_relay.Received);
    }
}
