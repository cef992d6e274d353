using EmailPlatform.Contracts;
using EmailPlatform.Delivery.Relays;
using EmailPlatform.Delivery.Tests.Support;
using EmailPlatform.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace EmailPlatform.Delivery.Tests.Relays;

/// <summary>
/// A relay's <c>MaxMessagesPerSecond</c> hands its tokens out by priority, as the relay's connections are: a password
/// reset does not wait for a token for every bulk message that asked before it. And a message asks for its token only
/// once it holds a connection, so that tokens do not pile up in messages waiting for connections, to be spent at once.
/// </summary>
public sealed class RateLimitPriorityTests : IAsyncLifetime
{
    private const int BulkBacklog = 20;

    private ScriptedSmtpServer _relay = null!;

    public async Task InitializeAsync() => _relay = await ScriptedSmtpServer.StartAsync();

    public async Task DisposeAsync() => await _relay.DisposeAsync();

    [Fact]
    public async Task HighPriorityEmailTakesTheNextRateLimitTokenBeforeTheWaitingBulkBacklog()
    {
        // One message a second, and the bulk lane takes the whole backlog at once: every bulk email is claimed, four
        // hold a connection and wait for a token, the others wait for a connection, when the password reset comes.
        await using var host = await DeliveryHost.StartAsync(_relay.Port, settings: new Dictionary<string, string?>
        {
            ["Delivery:Relays:0:MaxMessagesPerSecond"] = "1",
            ["Delivery:Relays:0:MaxConnections"] = "4",
            ["Delivery:Lanes:Bulk:ConcurrentMessageLimit"] = BulkBacklog.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Delivery:ConnectRetries"] = "0",
        });
        var bulk = Enumerable.Range(0, BulkBacklog)
            .Select(i => TestEmails.Create(to: [$"bulk-{i}@example.com"]) with { Priority = EmailPriority.Bulk }).ToList();
        await Task.WhenAll(bulk.Select(host.SendAsync));
        await Eventually.GetAsync(() => host.QueryAsync(db => db.Deliveries.CountAsync()),
            n => n == BulkBacklog, TimeSpan.FromSeconds(60), "the whole bulk backlog claimed");
        // Every connection's bulk email waits for a token (one goes a second), and the rest of the backlog for a
        // connection: the password reset has both to overtake.
        var router = host.Services.GetRequiredService<RelayRouter>();
        await Eventually.GetAsync(() => Task.FromResult(router.WaitingForRateLimit("scripted")), waiting => waiting >= 3,
            TimeSpan.FromSeconds(30), "the bulk backlog waiting for tokens");

        var reset = TestEmails.Create(to: ["reset@example.com"]) with { Priority = EmailPriority.High };
        await host.SendAsync(reset);
        await Eventually.GetAsync(() => host.QueryAsync(db => db.Deliveries.CountAsync(d => d.EmailId == reset.EmailId)),
            n => n == 1, TimeSpan.FromSeconds(30), "the password reset claimed");
        var bulkBefore = _relay.Received.Count;

        var received = await Eventually.GetAsync(() => Task.FromResult(_relay.Received.ToList()),
            r => r.Any(m => m.RcptTo.Contains("reset@example.com")), TimeSpan.FromSeconds(40), "the password reset at the relay");
        var bulkAhead = received.FindIndex(m => m.RcptTo.Contains("reset@example.com")) - bulkBefore;
        // Ahead of it at most: a bulk email that had its token but had not reached the relay yet (whose connection the
        // reset takes next), the one holding the next turn for a token, and one more while this test polled for the
        // claim. Served oldest first, it would wait for the whole backlog.
        Assert.True(bulkAhead <= 3, $"{bulkAhead} bulk emails reached the relay after the password reset was claimed and before it.");
        Assert.True(received.Count < BulkBacklog, "the bulk backlog had drained: the test proved nothing");
    }

    /// <summary>
    /// Two a second over four connections, the relay holding its first four final dots for six seconds: the other
    /// sixteen emails wait for connections meanwhile. Had they taken their tokens while waiting (as they did), a dozen
    /// would have gone out within a second of the connections freeing up, six times the limit.
    /// </summary>
    [Fact]
    public async Task EmailsWaitingForAConnectionDoNotHoardTokensToSpendAtOnce()
    {
        const int emails = 20;
        var held = 0;
        _relay.BeforeDataReply = () => Interlocked.Increment(ref held) <= 4 ? Task.Delay(TimeSpan.FromSeconds(6)) : Task.CompletedTask;
        var mailFroms = new System.Collections.Concurrent.ConcurrentQueue<long>();
        _relay.BeforeMailFromReply = () =>
        {
            mailFroms.Enqueue(System.Diagnostics.Stopwatch.GetTimestamp());
            return Task.CompletedTask;
        };
        await using var host = await DeliveryHost.StartAsync(_relay.Port, settings: new Dictionary<string, string?>
        {
            ["Delivery:Relays:0:MaxMessagesPerSecond"] = "2",
            ["Delivery:Relays:0:MaxConnections"] = "4",
            ["Delivery:Lanes:Normal:ConcurrentMessageLimit"] = emails.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Delivery:DataTimeout"] = "00:00:30",
            ["Delivery:ConnectRetries"] = "0",
        });

        await Task.WhenAll(Enumerable.Range(0, emails).Select(i => host.SendAsync(TestEmails.Create(to: [$"reader-{i}@example.com"]))));
        await host.WaitForAsync<EmailDelivered>(d => d.Count == emails, "every delivery");

        // The bucket holds two tokens and gains two a second: at most four in any second, six should its timer's ticks
        // bunch up on a loaded machine.
        var times = mailFroms.Order().ToList();
        var busiest = times.Max(start => times.Count(t => t >= start && System.Diagnostics.Stopwatch.GetElapsedTime(start, t) < TimeSpan.FromSeconds(1)));
        Assert.True(busiest <= 6, $"{busiest} MAIL FROMs within one second at a limit of 2 a second.");
    }
}
