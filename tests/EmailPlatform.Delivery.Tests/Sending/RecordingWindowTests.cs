using EmailPlatform.Contracts;
using EmailPlatform.Delivery.Relays;
using EmailPlatform.Delivery.Sending;
using EmailPlatform.Delivery.Storage;
using EmailPlatform.Delivery.Tests.Support;
using EmailPlatform.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Npgsql;
using SmtpServer.Protocol;

namespace EmailPlatform.Delivery.Tests.Sending;

/// <summary>
/// <see cref="RecordingWindow"/>: however many messages a lane has in flight, no more mail transactions are between
/// <c>MAIL FROM</c> and the record of their outcome than <c>Delivery:MaxUnrecordedTransactions</c>, by default one per
/// relay connection. That is the most a worker killed with <c>kill -9</c> can leave accepted and unrecorded.
/// </summary>
public sealed class RecordingWindowTests
{
    [Fact]
    public void UnsetTheWindowIsOnePerConnectionOfEveryRelay()
    {
        var options = new DeliveryOptions { Relays = [new() { Host = "a", MaxConnections = 4 }, new() { Host = "b", MaxConnections = 3 }] };

        Assert.Equal(7, options.EffectiveMaxUnrecordedTransactions);
        Assert.Equal(2, new DeliveryOptions { Relays = options.Relays, MaxUnrecordedTransactions = 2 }.EffectiveMaxUnrecordedTransactions);
    }

    [Fact]
    public async Task PermitDisposedTwiceIsGivenBackOnce()
    {
        var window = new RecordingWindow(Options.Create(new DeliveryOptions { MaxUnrecordedTransactions = 2 }));
        var first = await window.EnterAsync(EmailPriority.Normal, CancellationToken.None);
        using var second = await window.EnterAsync(EmailPriority.Normal, CancellationToken.None);

        first.Dispose();
        first.Dispose();

        Assert.Equal(1, window.InUse);
    }

    [Fact]
    public async Task ATransactionPastTheWindowWaitsAndIsCountedUntilAPlaceIsGivenBack()
    {
        var window = new RecordingWindow(Options.Create(new DeliveryOptions { MaxUnrecordedTransactions = 1 }));
        var first = await window.EnterAsync(EmailPriority.Normal, CancellationToken.None);

        var second = window.EnterAsync(EmailPriority.Normal, CancellationToken.None);

        Assert.False(second.IsCompleted);
        Assert.Equal((1, 1), (window.InUse, window.Waiting));
        first.Dispose();
        using var entered = await second.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal((1, 0), (window.InUse, window.Waiting));
    }

    /// <summary>
    /// An attempt that took its place in the window at a relay that then took no mail transaction (530 to
    /// <c>MAIL FROM</c>) gives the place back before it waits for the next relay's connection. Kept, it deadlocked against
    /// an attempt that held that connection and waited for the place: with one place, both emails stalled until the
    /// broker's consumer timeout. (The timeout is for that regression: the worker's deadlocked consumes would hold the
    /// host's disposal, and with it the test run, for good.)
    /// </summary>
    [Fact(Timeout = 180_000)]
    public async Task AnAttemptFailingOverWithNothingSentGivesItsPlaceBackBeforeWaitingForTheNextRelay()
    {
        await using var refusing = await ScriptedSmtpServer.StartAsync();
        await using var backup = await ScriptedSmtpServer.StartAsync();
        refusing.MailFromReply = new SmtpResponse((SmtpReplyCode)530, "5.7.0 Authentication required");
        var routed = TestEmails.Create(to: ["routed@example.com"]) with { Tags = [new EmailTag("route", "backup")] };
        DeliveryHost? host = null;
        var first = 0;
        refusing.BeforeMailFromReply = async () =>
        {
            if (Interlocked.Exchange(ref first, 1) != 0)
            {
                return;
            }

            // This attempt holds the window's one place: an email routed to the backup alone takes the backup's one
            // connection and waits there for the place.
            await host!.SendAsync(routed);
            var window = host.Services.GetRequiredService<RecordingWindow>();
            await Eventually.GetAsync(() => Task.FromResult(window.Waiting), waiting => waiting == 1, TimeSpan.FromSeconds(30),
                "the routed email waiting for the window");
        };
        host = await DeliveryHost.StartAsync(refusing.Port, settings: new Dictionary<string, string?>
        {
            ["Delivery:Relays:0:MaxConnections"] = "1",
            ["Delivery:Relays:1:Name"] = "backup",
            ["Delivery:Relays:1:Host"] = "127.0.0.1",
            ["Delivery:Relays:1:Port"] = backup.Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Delivery:Relays:1:Security"] = "None",
            ["Delivery:Relays:1:Priority"] = "10",
            ["Delivery:Relays:1:MaxConnections"] = "1",
            ["Delivery:Routes:0:Tag"] = "route=backup",
            ["Delivery:Routes:0:Relays:0"] = "backup",
            ["Delivery:MaxUnrecordedTransactions"] = "1",
        });
        await using var _ = host;
        var failingOver = TestEmails.Create(to: ["failover@example.com"]);

        await host.SendAsync(failingOver);

        var delivered = await host.WaitForAsync<EmailDelivered>(d => d.Count >= 2, "both emails delivered through the backup", seconds: 60);
        Assert.Equal(new[] { failingOver.EmailId, routed.EmailId }.Order(), delivered.Select(d => d.EmailId).Order());
        Assert.All(delivered, d => Assert.Equal("backup", d.Relay));
        Assert.Equal(["failover@example.com", "routed@example.com"], backup.Received.SelectMany(m => m.RcptTo).Order());
        Assert.Equal(1, Volatile.Read(ref first));
    }

    [Fact]
    public async Task WhileAnOutcomeCannotBeRecordedNoFurtherTransactionStartsBeyondTheWindow()
    {
        var admin = new NpgsqlConnectionStringBuilder(TestInfrastructure.PostgresAdmin);
        await using var store = new StoreOutageProxy(admin.Host!, admin.Port);
        await using var relay = await ScriptedSmtpServer.StartAsync();
        const int Emails = 8;
        var emails = Enumerable.Range(0, Emails).Select(_ => TestEmails.Create()).ToList();
        var transactions = 0;
        DeliveryHost? host = null;
        relay.BeforeDataReply = async () =>
        {
            if (Interlocked.Increment(ref transactions) != 1)
            {
                return;
            }

            // The first transaction is at its final dot. Once every email is claimed (and so would not need the store
            // again before its MAIL FROM), the store goes away: this outcome cannot be recorded until it is back.
            await Eventually.GetAsync(
                () => host!.QueryAsync(db => db.Deliveries.CountAsync(d => d.State == DeliveryState.Sending)),
                claimed => claimed == Emails, TimeSpan.FromSeconds(60), "every email claimed");
            store.Cut();
        };
        host = await DeliveryHost.StartAsync(relay.Port, TestStore.Postgres, new Dictionary<string, string?>
        {
            // Four connections and sixteen messages in flight (four per connection, the default), one transaction unrecorded.
            ["Delivery:Relays:0:MaxConnections"] = "4",
            ["Delivery:MaxUnrecordedTransactions"] = "1",
            ["Delivery:ClaimLease"] = "00:01:00",
            ["Delivery:RequeueAfter"] = "00:00:20",
            ["Delivery:RetryPollInterval"] = "00:00:01",
            ["Delivery:CommandTimeout"] = "00:00:05",
            ["Delivery:DataTimeout"] = "00:00:15",
            ["Delivery:ConnectTimeout"] = "00:00:03",
        }, routeStore: store.Route);
        await using var _ = host;

        foreach (var email in emails)
        {
            await host.SendAsync(email);
        }

        try
        {
            await Eventually.GetAsync(() => Task.FromResult(store.IsCut), cut => cut, TimeSpan.FromSeconds(90), "the store cut");
            // The other connections (three at least) each have a transaction waiting for a place, and none has begun
            // (one that did, past the window, ends the wait at once).
            var window = host.Services.GetRequiredService<RecordingWindow>();
            await Eventually.GetAsync(() => Task.FromResult(window.Waiting), waiting => waiting >= 3 || Volatile.Read(ref transactions) > 1,
                TimeSpan.FromSeconds(60), "the other connections' transactions waiting for the window");
            Assert.Equal(1, Volatile.Read(ref transactions));
        }
        finally
        {
            store.Restore();
        }

        var delivered = await host.WaitForAsync<EmailDelivered>(d => d.Count >= Emails, "every delivery", seconds: 120);
        Assert.Equal(emails.Select(e => e.EmailId).Order(), delivered.Select(d => d.EmailId).Order());
        Assert.Equal(Emails, relay.Received.Count);
        Assert.Equal(Emails, Volatile.Read(ref transactions));
    }
}
