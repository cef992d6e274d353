using EmailPlatform.Contracts;
using EmailPlatform.Delivery.Storage;
using EmailPlatform.Delivery.Tests.Support;
using EmailPlatform.Testing;
using Microsoft.EntityFrameworkCore;

namespace EmailPlatform.Delivery.Tests.Claims;

/// <summary>The claim is renewed right before MAIL FROM, so a long wait for a rate limit never lets it lapse mid-send.</summary>
public sealed class ClaimRenewalTests : IAsyncLifetime
{
    private const int Count = 40;

    private ScriptedSmtpServer _relay = null!;

    public async Task InitializeAsync() => _relay = await ScriptedSmtpServer.StartAsync();

    public async Task DisposeAsync() => await _relay.DisposeAsync();

    [Fact]
    public async Task EmailsWaitingLongerThanTheLeaseForARateLimitAreEachSentOnce()
    {
        // Two messages per second through the relay and a 16 s lease: the last of 40 emails waits about 20 s for its
        // turn, past its lease, while the retry scheduler looks for lapsed claims every second.
        await using var host = await DeliveryHost.StartAsync(_relay.Port, TestStore.Postgres, new Dictionary<string, string?>
        {
            ["Delivery:Relays:0:MaxMessagesPerSecond"] = "2",
            ["Delivery:Relays:0:MaxConnections"] = "4",
            ["Delivery:Lanes:Normal:ConcurrentMessageLimit"] = "40",
            ["Delivery:ConnectTimeout"] = "00:00:03",
            ["Delivery:CommandTimeout"] = "00:00:03",
            ["Delivery:DataTimeout"] = "00:00:03",
            ["Delivery:ConnectRetries"] = "0",
            ["Delivery:ClaimLease"] = "00:00:16",
            ["Delivery:RetryPollInterval"] = "00:00:01",
        });
        var emails = Enumerable.Range(0, Count).Select(i => TestEmails.Create(to: [$"user-{i}@example.com"])).ToList();

        await Task.WhenAll(emails.Select(host.SendAsync));

        try
        {
            await host.WaitForAsync<EmailDelivered>(d => d.Select(e => e.EmailId).Distinct().Count() == Count, "every email delivered", seconds: 120);
        }
        catch (TimeoutException)
        {
            var states = await host.QueryAsync(db => db.Deliveries.Select(d => d.State.ToString() + "/" + d.Attempt + "/" + d.Reason).ToListAsync());
            throw new Xunit.Sdk.XunitException($"delivered {host.Published<EmailDelivered>().Count}, deferred {host.Published<EmailDeferred>().Count} " +
                $"failed {host.Published<EmailFailed>().Count}, received {_relay.Received.Count}: {string.Join("; ", states.GroupBy(x => x).Select(g => g.Key + " x" + g.Count()))}");
        }
        await Eventually.GetAsync(() => host.QueryAsync(db => db.Deliveries.CountAsync(d => d.State != DeliveryState.Delivered)), n => n == 0,
            TimeSpan.FromSeconds(60), "every record final");
        Assert.Equal(Count, _relay.Received.Count);
        Assert.Equal(Count, _relay.Received.SelectMany(m => m.RcptTo).Distinct().Count());
        Assert.True(host.Published<EmailDelivered>().Any(d => d.Attempt == 1), "sent by the first claim");
    }
}
