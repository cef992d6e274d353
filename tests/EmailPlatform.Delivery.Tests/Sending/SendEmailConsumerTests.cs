using EmailPlatform.Testing;
using EmailPlatform.Contracts;
using EmailPlatform.Delivery.Sending;
using EmailPlatform.Delivery.Tests.Support;
using MassTransit;
using MassTransit.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
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
        await using var provider = BuildServices();
        var harness = provider.GetRequiredService<ITestHarness>();
        await harness.Start();

        await harness.Bus.Publish(email);

        Assert.True(await harness.GetConsumerHarness<SendEmailConsumer>().Consumed.Any<SendEmail>());
        var delivered = Assert.Single(harness.Published.Select<EmailDelivered>()).Context.Message;
        var bounced = Assert.Single(harness.Published.Select<EmailBounced>()).Context.Message;
        var deferred = Assert.Single(harness.Published.Select<EmailDeferred>()).Context.Message;

        Assert.Equal(("alice@example.com", email.EmailId, "scripted", 1, 250), (delivered.Recipient, delivered.EmailId, delivered.Relay, delivered.Attempt, delivered.Reply.Code));
        Assert.Equal(("nobody@example.com", "5.1.1"), (bounced.Recipient, bounced.Reply.EnhancedCode));
        Assert.Equal(("busy@example.com", 451), (deferred.Recipient, deferred.Reply?.Code));
        Assert.Null(deferred.NextAttemptAt);
        Assert.NotEqual(delivered.EventId, bounced.EventId);
        Assert.False(await harness.Published.Any<Fault<SendEmail>>());
    }

    [Fact]
    public async Task MalformedCommandFaultsInsteadOfBeingSwallowed()
    {
        var email = TestEmails.Create(headers: new Dictionary<string, string> { ["X-Note"] = "a\r\nBcc: victim@example.com" });
        await using var provider = BuildServices();
        var harness = provider.GetRequiredService<ITestHarness>();
        await harness.Start();

        await harness.Bus.Publish(email);

        Assert.True(await harness.Published.Any<Fault<SendEmail>>());
        Assert.False(await harness.Published.Any<EmailDelivered>());
        Assert.Empty(_relay.Received);
    }

    private ServiceProvider BuildServices()
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Delivery:Relays:0:Name"] = "scripted",
            ["Delivery:Relays:0:Host"] = "127.0.0.1",
            ["Delivery:Relays:0:Port"] = _relay.Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Delivery:Relays:0:Security"] = "None",
        });
        builder.AddDelivery();
        builder.Services.AddMassTransitTestHarness(bus => bus.AddDeliveryConsumers());
        return builder.Services.BuildServiceProvider(validateScopes: true);
    }
}
