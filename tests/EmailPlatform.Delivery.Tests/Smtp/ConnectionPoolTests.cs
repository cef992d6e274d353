using EmailPlatform.Delivery.Relays;
using EmailPlatform.Delivery.Sending;
using EmailPlatform.Delivery.Smtp;
using EmailPlatform.Delivery.Tests.Support;
using EmailPlatform.Testing;

namespace EmailPlatform.Delivery.Tests.Smtp;

/// <summary>The per-relay connection pool, as the relay sees it (sessions counted by a pass-through in front of it).</summary>
public sealed class ConnectionPoolTests : IAsyncLifetime
{
    private ScriptedSmtpServer _relay = null!;
    private CountingProxy _proxy = null!;

    public async Task InitializeAsync()
    {
        _relay = await ScriptedSmtpServer.StartAsync();
        _proxy = new CountingProxy(_relay.Port);
    }

    public async Task DisposeAsync()
    {
        await _proxy.DisposeAsync();
        await _relay.DisposeAsync();
    }

    [Fact]
    public async Task TwentyMessagesToOneRelayWithTwoConnectionsUseAtMostTwoSessions()
    {
        var options = Options();
        await using var pools = TestRelays.Pools(options);
        var client = TestRelays.Client(options, pools);
        var relay = Relay(maxConnections: 2);

        var outcomes = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => SendAsync(client, relay)));

        Assert.All(outcomes.SelectMany(o => o), o => Assert.Equal(RecipientOutcomeKind.Delivered, o.Kind));
        Assert.Equal(20, _relay.Received.Count);
        Assert.InRange(_proxy.Sessions, 1, 2);
        Assert.InRange(_proxy.MaxOpen, 1, 2);
    }

    [Fact]
    public async Task ConnectionIsRecycledAfterItsMessageLimit()
    {
        var options = Options();
        options.MaxMessagesPerConnection = 3;
        await using var pools = TestRelays.Pools(options);
        var client = TestRelays.Client(options, pools);

        for (var i = 0; i < 7; i++)
        {
            await SendAsync(client, Relay(maxConnections: 1));
        }

        Assert.Equal(7, _relay.Received.Count);
        Assert.Equal(3, _proxy.Sessions);
    }

    [Fact]
    public async Task ConnectionIdleLongerThanTheIdleTimeoutIsReplaced()
    {
        var options = Options();
        options.ConnectionIdleTimeout = TimeSpan.FromMilliseconds(300);
        await using var pools = TestRelays.Pools(options);
        var client = TestRelays.Client(options, pools);

        await SendAsync(client, Relay(maxConnections: 1));
        await Task.Delay(600);
        await SendAsync(client, Relay(maxConnections: 1));

        Assert.Equal(2, _relay.Received.Count);
        Assert.Equal(2, _proxy.Sessions);
    }

    [Fact]
    public async Task ConnectionBrokenMidMessageIsReplacedForTheNextMessage()
    {
        var options = Options();
        await using var pools = TestRelays.Pools(options);
        var client = TestRelays.Client(options, pools);

        _relay.DisconnectAfterData = true;
        var broken = Assert.Single(await SendAsync(client, Relay(maxConnections: 1)));
        _relay.DisconnectAfterData = false;
        var next = Assert.Single(await SendAsync(client, Relay(maxConnections: 1)));

        Assert.Equal(RecipientOutcomeKind.Deferred, broken.Kind);
        Assert.Equal(RecipientOutcomeKind.Delivered, next.Kind);
        Assert.Equal(2, _proxy.Sessions);
    }

    [Fact]
    public async Task ConnectionReusedAfterARefusedTransactionStartsTheNextOneClean()
    {
        var options = Options();
        await using var pools = TestRelays.Pools(options);
        var client = TestRelays.Client(options, pools);

        _relay.RcptReplies["nobody@example.com"] = new SmtpServer.Protocol.SmtpResponse((SmtpServer.Protocol.SmtpReplyCode)550, "5.1.1 User unknown");
        var refused = await SendAsync(client, Relay(maxConnections: 1), "nobody@example.com");
        var accepted = await SendAsync(client, Relay(maxConnections: 1), "alice@example.com");

        Assert.Equal(RecipientOutcomeKind.Bounced, Assert.Single(refused).Kind);
        Assert.Equal(RecipientOutcomeKind.Delivered, Assert.Single(accepted).Kind);
        Assert.Equal(["alice@example.com"], Assert.Single(_relay.Received).RcptTo);
        Assert.Equal(1, _proxy.Sessions);
    }

    private static DeliveryOptions Options() => new() { ConnectTimeout = TimeSpan.FromSeconds(10), CommandTimeout = TimeSpan.FromSeconds(10) };

    private RelayOptions Relay(int maxConnections) => new()
    {
        Name = "pooled", Host = "127.0.0.1", Port = _proxy.Port, Security = RelaySecurity.None, MaxConnections = maxConnections,
    };

    private static Task<IReadOnlyList<RecipientOutcome>> SendAsync(SmtpRelayClient client, RelayOptions relay, string to = "alice@example.com")
    {
        var email = TestEmails.Create(to: [to]);
        return client.SendAsync(relay, MimeMessageFactory.Create(email), email.Envelope, new SmtpAttempt(email.EmailId), CancellationToken.None);
    }
}
