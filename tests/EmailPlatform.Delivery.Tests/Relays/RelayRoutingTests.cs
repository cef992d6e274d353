using System.Globalization;
using EmailPlatform.Contracts;
using EmailPlatform.Delivery.Relays;
using EmailPlatform.Delivery.Sending;
using EmailPlatform.Delivery.Storage;
using EmailPlatform.Delivery.Tests.Support;
using EmailPlatform.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using SmtpServer.Protocol;

namespace EmailPlatform.Delivery.Tests.Relays;

/// <summary>Priority failover, weighted sharing and the per-relay breaker: in the router, and through the worker to real sockets.</summary>
public sealed class RelayRoutingTests : IAsyncLifetime
{
    private ScriptedSmtpServer _relay = null!;

    public async Task InitializeAsync() => _relay = await ScriptedSmtpServer.StartAsync();

    public async Task DisposeAsync() => await _relay.DisposeAsync();

    [Fact]
    public async Task UnreachablePrimaryFailsOverToTheBackupRelayInTheSameAttempt()
    {
        var email = TestEmails.Create();
        await using var host = await DeliveryHost.StartAsync(_relay.Port, settings: TwoRelays(TestRelays.UnusedPort(), threshold: 5));

        await host.SendAsync(email);

        var delivered = Assert.Single(await host.WaitForAsync<EmailDelivered>(d => d.Count == 1, "the delivery through the backup"));
        Assert.Equal(("backup", 1), (delivered.Relay, delivered.Attempt));
        Assert.Empty(host.Published<EmailDeferred>());
        Assert.Single(_relay.Received);
    }

    [Fact]
    public async Task RelayWhoseBreakerOpenedIsSkippedUntilItsCoolDownEnds()
    {
        await using var dead = new CountingProxy(TestRelays.UnusedPort());
        await using var host = await DeliveryHost.StartAsync(_relay.Port, settings: TwoRelays(dead.Port, threshold: 1));

        await host.SendAsync(TestEmails.Create());
        await host.WaitForAsync<EmailDelivered>(d => d.Count == 1, "the first delivery");
        await host.SendAsync(TestEmails.Create());
        await host.WaitForAsync<EmailDelivered>(d => d.Count == 2, "the second delivery");

        Assert.Equal(1, dead.Sessions);
        Assert.All(host.Published<EmailDelivered>(), d => Assert.Equal("backup", d.Relay));
    }

    [Fact]
    public async Task InternationalizedRecipientAloneGoesOnToTheNextRelayInTheSameAttemptWhenTheFirstLacksSmtpUtf8()
    {
        await using var old = new MinimalSmtpServer();
        await using var host = await DeliveryHost.StartAsync(_relay.Port, settings: TwoRelays(old.Port, threshold: 5));

        await host.SendAsync(TestEmails.Create(to: ["jörg@example.com"]));

        var delivered = Assert.Single(await host.WaitForAsync<EmailDelivered>(d => d.Count == 1, "the delivery"));
        Assert.Equal(("backup", 1), (delivered.Relay, delivered.Attempt));
        Assert.Empty(old.Received);
        Assert.Equal(["jörg@example.com"], Assert.Single(_relay.Received).RcptTo);
    }

    [Fact]
    public async Task InternationalizedRecipientLeftOutByARelayThatCarriedTheOthersIsDeferredAndTakenAloneToTheNextRelay()
    {
        // Not on to the next relay in the same attempt: the first relay's 250 for Alice would wait, unrecorded, for the
        // second relay's whole transaction, and a crash in between would send her the email again. Nor after the retry
        // schedule's first interval (an hour here): the next attempt is due at once.
        await using var old = new MinimalSmtpServer();
        var settings = TwoRelays(old.Port, threshold: 5);
        settings["Delivery:RetrySchedule:0"] = "01:00:00";
        await using var host = await DeliveryHost.StartAsync(_relay.Port, settings: settings);

        await host.SendAsync(TestEmails.Create(to: ["alice@example.com", "jörg@example.com"]));

        var delivered = await host.WaitForAsync<EmailDelivered>(d => d.Count == 2, "both deliveries");
        Assert.Equal(("primary", 1), delivered.Where(d => d.Recipient == "alice@example.com").Select(d => (d.Relay, d.Attempt)).Single());
        Assert.Equal(("backup", 2), delivered.Where(d => d.Recipient == "jörg@example.com").Select(d => (d.Relay, d.Attempt)).Single());
        var deferred = Assert.Single(host.Published<EmailDeferred>());
        Assert.Equal(("jörg@example.com", "primary"), (deferred.Recipient, deferred.Relay));
        Assert.Contains("SMTPUTF8", deferred.Reason, StringComparison.Ordinal);
        Assert.Equal(deferred.Timestamp, deferred.NextAttemptAt);
        Assert.Empty(host.Published<EmailFailed>());
        Assert.Equal(["alice@example.com"], Assert.Single(old.Received));
        Assert.Equal(["jörg@example.com"], Assert.Single(_relay.Received).RcptTo);
    }

    [Fact]
    public async Task InternationalizedRecipientFailsWhenNoRelayOffersSmtpUtf8()
    {
        await using var old = new MinimalSmtpServer();
        await using var older = new MinimalSmtpServer();
        var settings = WithQuickRetries(TwoRelays(old.Port, threshold: 5));
        settings["Delivery:Relays:1:Port"] = older.Port.ToString(CultureInfo.InvariantCulture);
        var email = TestEmails.Create(to: ["alice@example.com", "jörg@example.com"]);
        await using var host = await DeliveryHost.StartAsync(_relay.Port, settings: settings);

        await host.SendAsync(email);

        var failed = Assert.Single(await host.WaitForAsync<EmailFailed>(f => f.Count == 1, "the failure"));
        Assert.Equal(("jörg@example.com", "backup", 2), (failed.Recipient, failed.Relay, failed.Attempt));
        Assert.Contains("SMTPUTF8", failed.Reason, StringComparison.Ordinal);
        Assert.Equal("primary", Assert.Single(await host.WaitForAsync<EmailDelivered>(d => d.Count == 1, "the delivery")).Relay);
        Assert.Equal(["alice@example.com"], Assert.Single(old.Received));
        Assert.Empty(older.Received);
    }

    [Fact]
    public async Task InternationalizedRecipientIsDeferredNotFailedWhileARelayThatMayOfferSmtpUtf8CoolsDown()
    {
        await using var dead = new CountingProxy(TestRelays.UnusedPort());
        await using var old = new MinimalSmtpServer();
        var settings = TwoRelays(dead.Port, threshold: 1);
        settings["Delivery:Relays:1:Port"] = old.Port.ToString(CultureInfo.InvariantCulture);
        await using var host = await DeliveryHost.StartAsync(_relay.Port, settings: settings);

        // A first email opens the primary's breaker and goes to the backup, which lacks SMTPUTF8; the primary, skipped
        // for its cool-down, may offer it.
        await host.SendAsync(TestEmails.Create(to: ["alice@example.com"]));
        Assert.Equal("backup", Assert.Single(await host.WaitForAsync<EmailDelivered>(d => d.Count == 1, "the first delivery")).Relay);
        await host.SendAsync(TestEmails.Create(to: ["jörg@example.com"]));

        var deferred = Assert.Single(await host.WaitForAsync<EmailDeferred>(d => d.Count == 1, "the deferral"));
        Assert.Equal("jörg@example.com", deferred.Recipient);
        Assert.Contains("cool-down", deferred.Reason, StringComparison.Ordinal);
        Assert.Empty(host.Published<EmailFailed>());
        Assert.Equal(1, dead.Sessions);
    }

    /// <summary>
    /// The primary, which offers SMTPUTF8, refuses the sender for now; the backup lacks it. The recipient whose address
    /// needs it waits for the primary to take the sender again, rather than failing as though no relay could carry it.
    /// </summary>
    [Fact]
    public async Task InternationalizedRecipientIsDeferredNotFailedWhileTheRelayThatOffersSmtpUtf8RefusesTheSenderForNow()
    {
        await using var primary = await ScriptedSmtpServer.StartAsync();
        primary.MailFromReply = new SmtpResponse((SmtpReplyCode)451, "4.7.1 Sender rate limited, try again later");
        await using var old = new MinimalSmtpServer();
        var settings = TwoRelays(primary.Port, threshold: 5);
        settings["Delivery:Relays:1:Port"] = old.Port.ToString(CultureInfo.InvariantCulture);
        await using var host = await DeliveryHost.StartAsync(_relay.Port, settings: settings);

        await host.SendAsync(TestEmails.Create(to: ["jörg@example.com"]));

        var deferred = Assert.Single(await host.WaitForAsync<EmailDeferred>(d => d.Count == 1, "the deferral"));
        Assert.Equal("jörg@example.com", deferred.Recipient);
        Assert.Empty(host.Published<EmailFailed>());
        Assert.Empty(old.Received);
    }

    [Fact]
    public async Task InternationalizedRecipientIsDeferredNotFailedWhenTheRelayThatMayOfferSmtpUtf8IsUnreachable()
    {
        // The primary refuses connections: it never answered EHLO, so whether it offers SMTPUTF8 is unknown, as for a
        // relay skipped for its cool-down. Only the backup, which lacks SMTPUTF8, was reached.
        await using var old = new MinimalSmtpServer();
        var settings = TwoRelays(TestRelays.UnusedPort(), threshold: 5);
        settings["Delivery:Relays:1:Port"] = old.Port.ToString(CultureInfo.InvariantCulture);
        await using var host = await DeliveryHost.StartAsync(_relay.Port, settings: settings);

        await host.SendAsync(TestEmails.Create(to: ["jörg@example.com"]));

        await Eventually.GetAsync(() => Task.FromResult(host.Published<EmailDeferred>().Count + host.Published<EmailFailed>().Count),
            count => count > 0, TimeSpan.FromSeconds(60), "the recipient's outcome");
        Assert.Empty(host.Published<EmailFailed>());
        var deferred = Assert.Single(host.Published<EmailDeferred>());
        Assert.Equal("jörg@example.com", deferred.Recipient);
        Assert.Contains("SMTPUTF8", deferred.Reason, StringComparison.Ordinal);
        Assert.Contains("could not be reached", deferred.Reason, StringComparison.Ordinal);
        Assert.Empty(old.Received);
    }

    /// <summary>
    /// A relay that refuses every sender for now (a full disk's 452, a rate limit's 451, a shutdown's 421) began no mail
    /// transaction: the backup takes the email in the same attempt, rather than the email waiting out the retry schedule
    /// on the one relay that cannot take it. A refusal about the relay itself (421, a mail system code X.3.x, a bare 452)
    /// counts against its breaker, so that the next emails go straight to the backup; one that may be about the sender
    /// alone (4.7.1) does not.
    /// </summary>
    [Theory]
    [InlineData(452, "4.3.1 Insufficient system storage", "Open")]
    [InlineData(452, "Insufficient system storage", "Open")]
    [InlineData(451, "4.7.1 Sender rate limited, try again later", "Closed")]
    [InlineData(450, "4.1.8 Sender address rejected: Domain not found", "Closed")]
    [InlineData(421, "4.3.2 Service shutting down", "Open")]
    public async Task PrimaryRefusingTheSenderForNowFailsOverToTheBackupInTheSameAttempt(int code, string text, string breaker)
    {
        await using var primary = await ScriptedSmtpServer.StartAsync();
        primary.MailFromReply = new SmtpResponse((SmtpReplyCode)code, text);
        await using var host = await DeliveryHost.StartAsync(_relay.Port, settings: TwoRelays(primary.Port, threshold: 1));

        await host.SendAsync(TestEmails.Create());

        var delivered = Assert.Single(await host.WaitForAsync<EmailDelivered>(d => d.Count == 1, "the delivery through the backup"));
        Assert.Equal(("backup", 1), (delivered.Relay, delivered.Attempt));
        Assert.Empty(host.Published<EmailDeferred>());
        Assert.Empty(primary.Received);
        Assert.Single(_relay.Received);
        var relay = host.Services.GetRequiredService<IOptions<DeliveryOptions>>().Value.Relays[0];
        Assert.Equal(Enum.Parse<BreakerState>(breaker), host.Services.GetRequiredService<RelayRouter>().BreakerState(relay));
    }

    [Fact]
    public async Task SessionBrokenMidMessageCountsAgainstTheRelayEvenWhenOneRecipientWasRefused()
    {
        _relay.RcptReplies["alice@example.com"] = new SmtpResponse((SmtpReplyCode)550, "5.1.1 No such user");
        _relay.DisconnectAfterData = true;
        await using var host = await DeliveryHost.StartAsync(_relay.Port, settings: new Dictionary<string, string?>
        {
            ["Delivery:BreakerFailureThreshold"] = "1",
            ["Delivery:BreakerCoolDown"] = "00:10:00",
        });

        await host.SendAsync(TestEmails.Create(to: ["alice@example.com", "bob@example.com"]));

        // Alice's refusal at RCPT TO is the relay's answer; Bob's message was cut off without one: the session broke.
        Assert.Equal("alice@example.com", Assert.Single(await host.WaitForAsync<EmailBounced>(b => b.Count == 1, "alice's bounce")).Recipient);
        Assert.Equal("bob@example.com", Assert.Single(await host.WaitForAsync<EmailDeferred>(d => d.Count == 1, "bob's deferral")).Recipient);
        var relay = host.Services.GetRequiredService<IOptions<DeliveryOptions>>().Value.Relays[0];
        Assert.Equal(BreakerState.Open, host.Services.GetRequiredService<RelayRouter>().BreakerState(relay));
    }

    [Fact]
    public async Task MailMatchingARouteGoesOnlyThroughItsRelays()
    {
        await using var tenantRelay = await ScriptedSmtpServer.StartAsync();
        var settings = TwoRelays(_relay.Port, threshold: 5);
        settings["Delivery:Relays:0:Name"] = "shared";
        settings["Delivery:Relays:0:Host"] = "127.0.0.1";
        settings["Delivery:Relays:0:Security"] = "None";
        settings["Delivery:Relays:1:Name"] = "tenant";
        settings["Delivery:Relays:1:Port"] = tenantRelay.Port.ToString(CultureInfo.InvariantCulture);
        settings["Delivery:Routes:0:SenderDomain"] = "ACME.example";
        settings["Delivery:Routes:0:Relays:0"] = "tenant";
        settings["Delivery:Routes:1:Tag"] = "category=marketing";
        settings["Delivery:Routes:1:Relays:0"] = "tenant";
        await using var host = await DeliveryHost.StartAsync(_relay.Port, settings: settings);

        var byDomain = TestEmails.Create(to: ["a@example.com"]);
        var byTag = TestEmails.Create(to: ["b@example.com"]) with { From = "news@other.example", Tags = [new EmailTag("category", "marketing")] };
        var unmatched = TestEmails.Create(to: ["c@example.com"]) with { From = "news@other.example", Tags = [new EmailTag("category", "receipt")] };
        await host.SendAsync(byDomain);
        await host.SendAsync(byTag);
        await host.SendAsync(unmatched);

        var delivered = await host.WaitForAsync<EmailDelivered>(d => d.Count == 3, "the three deliveries");
        Assert.Equal("tenant", delivered.Single(d => d.EmailId == byDomain.EmailId).Relay);
        Assert.Equal("tenant", delivered.Single(d => d.EmailId == byTag.EmailId).Relay);
        Assert.Equal("shared", delivered.Single(d => d.EmailId == unmatched.EmailId).Relay);
        Assert.Equal(["a@example.com", "b@example.com"], tenantRelay.Received.SelectMany(m => m.RcptTo).Order());
        Assert.Equal(["c@example.com"], _relay.Received.SelectMany(m => m.RcptTo));
    }

    [Fact]
    public void RoutedMailNeverFailsOverToARelayOutsideItsRoute()
    {
        var options = new DeliveryOptions
        {
            Relays = [new RelayOptions { Name = "shared", Host = "a" }, new RelayOptions { Name = "tenant", Host = "b", Priority = 10 }],
            Routes = [new RouteOptions { SenderDomain = "acme.example", Relays = ["tenant"] }],
        };
        var router = new RelayRouter(Options.Create(options), TimeProvider.System);

        Assert.Equal(["tenant"], router.Candidates(TestEmails.Create()).Select(r => r.Name));
        Assert.Equal(["shared", "tenant"], router.Candidates(TestEmails.Create() with { From = "x@acme.example.org" }).Select(r => r.Name));
    }

    [Theory]
    [InlineData("xn--bcher-kva.example", "billing@xn--bcher-kva.example")]
    [InlineData("xn--bcher-kva.example", "Billing <billing@bücher.example>")]
    [InlineData("bücher.example", "billing@xn--bcher-kva.example")]
    [InlineData("bücher.example", "Billing <billing@bücher.example>")]
    [InlineData("XN--BCHER-KVA.Example", "billing@BÜCHER.example")]
    public void RouteBySenderDomainMatchesAnInternationalizedDomainWrittenAsALabelOrInUnicode(string configured, string from)
    {
        // MimeKit reads the From domain in Unicode whichever way it was written; the operator may write the DNS form.
        var options = new DeliveryOptions
        {
            Relays = [new RelayOptions { Name = "shared", Host = "a" }, new RelayOptions { Name = "tenant", Host = "b", Priority = 10 }],
            Routes = [new RouteOptions { SenderDomain = configured, Relays = ["tenant"] }],
        };
        var router = new RelayRouter(Options.Create(options), TimeProvider.System);

        Assert.Equal(["tenant"], router.Candidates(TestEmails.Create() with { From = from }).Select(r => r.Name));
        Assert.Null(router.RouteFor(TestEmails.Create() with { From = "billing@bucher.example" }));
    }

    [Fact]
    public void LowerPriorityIsAlwaysTriedFirstAndWeightsShareTrafficWithinAPriority()
    {
        var router = Router(
            new RelayOptions { Name = "heavy", Host = "a", Priority = 0, Weight = 3 },
            new RelayOptions { Name = "light", Host = "b", Priority = 0, Weight = 1 },
            new RelayOptions { Name = "backup", Host = "c", Priority = 10 });

        var firsts = Enumerable.Range(0, 4000).Select(_ => router.Candidates()).ToList();

        Assert.All(firsts, c => Assert.Equal("backup", c[^1].Name));
        Assert.All(firsts, c => Assert.Equal(3, c.Count));
        var heavyShare = firsts.Count(c => c[0].Name == "heavy") / 4000.0;
        Assert.InRange(heavyShare, 0.70, 0.80);
    }

    [Fact]
    public void OpenBreakerLetsOneProbeThroughAfterItsCoolDownAndClosesWhenItSucceeds()
    {
        var time = new ManualTime();
        var breaker = new RelayBreaker(new DeliveryOptions { BreakerFailureThreshold = 2, BreakerCoolDown = TimeSpan.FromSeconds(30) }, time);

        Assert.False(breaker.Failed());
        Assert.True(breaker.Failed());
        Assert.False(breaker.TryEnter(out _));

        time.Advance(TimeSpan.FromSeconds(31));
        Assert.True(breaker.TryEnter(out _));
        Assert.False(breaker.TryEnter(out _));

        breaker.Succeeded();
        Assert.True(breaker.TryEnter(out _));
        Assert.True(breaker.TryEnter(out _));
    }

    [Fact]
    public void BreakerStateIsClosedThenOpenThenHalfOpenAfterItsCoolDown()
    {
        var time = new ManualTime();
        var breaker = new RelayBreaker(new DeliveryOptions { BreakerFailureThreshold = 1, BreakerCoolDown = TimeSpan.FromSeconds(30) }, time);
        Assert.Equal(BreakerState.Closed, breaker.State);

        breaker.Failed();
        Assert.Equal(BreakerState.Open, breaker.State);

        time.Advance(TimeSpan.FromSeconds(31));
        Assert.Equal(BreakerState.HalfOpen, breaker.State);
        Assert.True(breaker.TryEnter(out _));
        Assert.Equal(BreakerState.HalfOpen, breaker.State);

        breaker.Succeeded();
        Assert.Equal(BreakerState.Closed, breaker.State);
    }

    [Fact]
    public void FailedProbeOpensTheBreakerForAnotherCoolDown()
    {
        var time = new ManualTime();
        var breaker = new RelayBreaker(new DeliveryOptions { BreakerFailureThreshold = 1, BreakerCoolDown = TimeSpan.FromSeconds(30) }, time);
        breaker.Failed();
        time.Advance(TimeSpan.FromSeconds(31));
        Assert.True(breaker.TryEnter(out _));

        Assert.True(breaker.Failed());

        Assert.False(breaker.TryEnter(out _));
        time.Advance(TimeSpan.FromSeconds(31));
        Assert.True(breaker.TryEnter(out _));
    }

    [Fact]
    public void AbandonedMessageThatEnteredBeforeTheBreakerOpenedLetsNoSecondProbeIn()
    {
        var time = new ManualTime();
        var breaker = new RelayBreaker(new DeliveryOptions { BreakerFailureThreshold = 1, BreakerCoolDown = TimeSpan.FromSeconds(30) }, time);
        Assert.True(breaker.TryEnter(out var early));
        breaker.Failed();
        time.Advance(TimeSpan.FromSeconds(31));
        Assert.True(breaker.TryEnter(out var probe));

        // The message that entered while the breaker was closed loses its claim: the probe is still out.
        breaker.Abandoned(early);
        Assert.False(breaker.TryEnter(out _));

        // The probe loses its claim: another message may probe.
        breaker.Abandoned(probe);
        Assert.True(breaker.TryEnter(out _));
    }

    private static RelayRouter Router(params RelayOptions[] relays) =>
        new(Options.Create(new DeliveryOptions { Relays = [.. relays] }), TimeProvider.System);

    /// <summary>A deferred recipient tried again after a second, the scheduler looking every second.</summary>
    private static Dictionary<string, string?> WithQuickRetries(Dictionary<string, string?> settings)
    {
        settings["Delivery:RetrySchedule:0"] = "00:00:01";
        settings["Delivery:RetryPollInterval"] = "00:00:01";
        return settings;
    }

    private Dictionary<string, string?> TwoRelays(int primaryPort, int threshold) => new()
    {
        ["Delivery:Relays:0:Name"] = "primary",
        ["Delivery:Relays:0:Port"] = primaryPort.ToString(CultureInfo.InvariantCulture),
        ["Delivery:Relays:1:Name"] = "backup",
        ["Delivery:Relays:1:Host"] = "127.0.0.1",
        ["Delivery:Relays:1:Port"] = _relay.Port.ToString(CultureInfo.InvariantCulture),
        ["Delivery:Relays:1:Security"] = "None",
        ["Delivery:Relays:1:Priority"] = "10",
        ["Delivery:ConnectRetries"] = "0",
        ["Delivery:ConnectTimeout"] = "00:00:05",
        ["Delivery:BreakerFailureThreshold"] = threshold.ToString(CultureInfo.InvariantCulture),
        ["Delivery:BreakerCoolDown"] = "00:10:00",
    };

    private sealed class ManualTime : TimeProvider
    {
        private DateTimeOffset _now = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

        public override DateTimeOffset GetUtcNow() => _now;

        public void Advance(TimeSpan by) => _now += by;
    }
}
