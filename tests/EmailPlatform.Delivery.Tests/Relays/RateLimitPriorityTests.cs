using EmailPlatform.Contracts;
using EmailPlatform.Delivery.Relays;
using EmailPlatform.Delivery.Tests.Support;
using EmailPlatform.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace EmailPlatform.Delivery.Tests.Relays;

/// <summary>
/// A relay's <c>MaxMessagesPerSecond</c> hands its tokens out by priority, as the relay's connections are: a password
/// reset does not wait for a token for every bulk message that asked before it.
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
        // One message a second, and the bulk lane takes the whole backlog at once: every bulk email is claimed and
        // waiting for a token (the connections are not the bottleneck) when the password reset comes.
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
        // Half the backlog at least waits for a token (one goes a second): the password reset has them to overtake.
        var router = host.Services.GetRequiredService<RelayRouter>();
        await Eventually.GetAsync(() => Task.FromResult(router.WaitingForRateLimit("scripted")), waiting => waiting >= BulkBacklog / 2,
            TimeSpan.FromSeconds(30), "the bulk backlog waiting for tokens");

        var reset = TestEmails.Create(to: ["reset@example.com"]) with { Priority = EmailPriority.High };
        await host.SendAsync(reset);
        await Eventually.GetAsync(() => host.QueryAsync(db => db.Deliveries.CountAsync(d => d.EmailId == reset.EmailId)),
            n => n == 1, TimeSpan.FromSeconds(30), "the password reset claimed");
        var bulkBefore = _relay.Received.Count;

        var received = await Eventually.GetAsync(() => Task.FromResult(_relay.Received.ToList()),
            r => r.Any(m => m.RcptTo.Contains("reset@example.com")), TimeSpan.FromSeconds(40), "the password reset at the relay");
        var bulkAhead = received.FindIndex(m => m.RcptTo.Contains("reset@example.com")) - bulkBefore;
        // Ahead of it at most: a bulk email that had its token but had not reached the relay yet, the one holding the
        // next turn, and one more token while this test polled for the claim. Served oldest first, it would wait for
        // the whole backlog.
        Assert.True(bulkAhead <= 3, $"{bulkAhead} bulk emails reached the relay after the password reset was claimed and before it.");
        Assert.True(received.Count < BulkBacklog, "the bulk backlog had drained: the test proved nothing");
    }
}
