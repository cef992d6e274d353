using EmailPlatform.Contracts;
using EmailPlatform.Delivery.Relays;
using EmailPlatform.Delivery.Sending;
using EmailPlatform.Delivery.Smtp;
using EmailPlatform.Delivery.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace EmailPlatform.Delivery.Tests.Smtp;

/// <summary>
/// A pooled connection the relay closed after its last reply (a per-connection message limit, a restart, a load
/// balancer's drain), reused before the pool's NOOP check applies: MailKit still says it is connected, and the next
/// transaction finds it dead.
/// </summary>
public sealed class StaleConnectionTests
{
    [Fact]
    public async Task ConnectionTheRelayClosedAfterItsLastReplyIsReplacedWithoutADeferralOrABreakerFailure()
    {
        await using var relay = new MinimalSmtpServer(closeAfterFinalReply: true);
        await using var host = await DeliveryHost.StartAsync(relay.Port, settings: new Dictionary<string, string?>
        {
            ["Delivery:Relays:0:MaxConnections"] = "1",
            ["Delivery:BreakerFailureThreshold"] = "1",
            ["Delivery:BreakerCoolDown"] = "00:10:00",
        }, services: s => s.AddSingleton<TimeProvider>(new BackToBack()));
        var first = TestEmails.Create(to: ["alice@example.com"]);
        var second = TestEmails.Create(to: ["bob@example.com"]);

        await host.SendOnceAsync(first);
        await host.SendOnceAsync(second);

        var delivered = host.Published<EmailDelivered>();
        Assert.Equal([(first.EmailId, 1), (second.EmailId, 1)], delivered.Select(d => (d.EmailId, d.Attempt)));
        Assert.Empty(host.Published<EmailDeferred>());
        var relayOptions = host.Services.GetRequiredService<IOptions<DeliveryOptions>>().Value.Relays[0];
        Assert.Equal(BreakerState.Closed, host.Services.GetRequiredService<RelayRouter>().BreakerState(relayOptions));
        // Each message once: the second went on a new session, nothing of it on the dead one.
        Assert.Equal([["alice@example.com"], ["bob@example.com"]], relay.Received);
        Assert.Equal(2, relay.Sessions);
    }

    [Fact]
    public async Task ReusedConnectionThatBreaksAfterTheRelayAnsweredMailFromIsNotSentAgain()
    {
        // The session's second MAIL FROM is accepted, then the connection closes: the relay was alive and had begun the
        // transaction, so the fault is the session's, as before, and the message is not sent again in this attempt.
        await using var relay = new MinimalSmtpServer(closeAfterMailFrom: 2);
        var options = new DeliveryOptions { ConnectTimeout = TimeSpan.FromSeconds(10), CommandTimeout = TimeSpan.FromSeconds(10) };
        await using var pools = new SmtpConnectionPools(Options.Create(options), new BackToBack(), NullLogger<SmtpConnectionPools>.Instance);
        var client = TestRelays.Client(options, pools);
        var relayOptions = TestRelays.Local(relay.Port, RelaySecurity.None);

        var first = await SendAsync(client, relayOptions, "alice@example.com");
        var second = await SendAsync(client, relayOptions, "bob@example.com");

        Assert.Equal(RecipientOutcomeKind.Delivered, Assert.Single(first).Kind);
        var broken = Assert.Single(second);
        Assert.Equal((RecipientOutcomeKind.Deferred, true), (broken.Kind, broken.SessionBroke));
        Assert.Equal([["alice@example.com"]], relay.Received);
        Assert.Equal(["bounces@emailplatform.local", "bounces@emailplatform.local"], relay.MailFrom);
        Assert.Equal(1, relay.Sessions);
    }

    private static Task<IReadOnlyList<RecipientOutcome>> SendAsync(SmtpRelayClient client, RelayOptions relay, string to)
    {
        var email = TestEmails.Create(to: [to]);
        return client.SendAsync(relay, MimeMessageFactory.Create(email), email.Envelope, new SmtpAttempt(email.EmailId), CancellationToken.None);
    }

    /// <summary>
    /// The system's clock, with a stopwatch that stands still: to the pool every message follows the last one at once,
    /// however busy the machine, so the connection is reused without its NOOP check (which it gets after a second idle).
    /// </summary>
    private sealed class BackToBack : TimeProvider
    {
        public override long GetTimestamp() => 0;
    }
}
