using EmailPlatform.Contracts;
using EmailPlatform.Delivery.Relays;
using EmailPlatform.Delivery.Smtp;
using EmailPlatform.Delivery.Storage;
using EmailPlatform.Delivery.Tests.Support;
using EmailPlatform.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace EmailPlatform.Delivery.Tests.Claims;

/// <summary>
/// The claim is renewed right before MAIL FROM, so a long wait for a rate limit never lets it lapse mid-send; one that
/// lapsed all the same (the store was away for most of the lease) is not sent by its worker, nor lost.
/// </summary>
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

    [Fact]
    public async Task FirstAttemptWhoseClaimLapsedWhileWaitingForAConnectionIsSentOnceNotFailedAsLost()
    {
        await using var host = await DeliveryHost.StartAsync(_relay.Port, TestStore.Postgres, new Dictionary<string, string?>
        {
            ["Delivery:Relays:0:MaxConnections"] = "1",
            ["Delivery:ClaimLease"] = "00:00:20",
            ["Delivery:RetryPollInterval"] = "00:00:01",
            ["Delivery:ConnectTimeout"] = "00:00:03",
            ["Delivery:CommandTimeout"] = "00:00:03",
            ["Delivery:DataTimeout"] = "00:00:03",
            ["Delivery:ConnectRetries"] = "0",
        });
        var settings = host.Services.GetRequiredService<IOptions<DeliveryOptions>>().Value;
        var pool = host.Services.GetRequiredService<SmtpConnectionPools>().For(settings.Relays[0]);
        var email = TestEmails.Create();

        // The relay's one connection is busy (another message, as far as this one knows): the email's first attempt
        // claims its recipient and waits for it, with no copy of the command kept anywhere but on the broker.
        var busy = await pool.RentAsync(EmailPriority.Normal, CancellationToken.None);
        try
        {
            await host.SendAsync(email);
            var claim = await Eventually.GetAsync(() => RecordAsync(host, email), r => r?.State == DeliveryState.Sending,
                TimeSpan.FromSeconds(30), "the first attempt's claim");

            // The claim lapses, as when the store is away for longer than the lease and every renewal fails; the
            // scheduler finds it so and hands the recipient back, expecting the broker to bring the command back.
            await host.QueryAsync(db => db.Deliveries.Where(d => d.EmailId == email.EmailId)
                .ExecuteUpdateAsync(set => set.SetProperty(d => d.DueAt, DateTime.UtcNow.AddSeconds(-1))));
            await Eventually.GetAsync(() => RecordAsync(host, email), r => r?.State == DeliveryState.Queued,
                TimeSpan.FromSeconds(10), "the lapsed claim handed back");

            // Late enough that the attempt confirms its claim before MAIL FROM (less than the longest transaction left).
            var confirmFrom = claim!.UpdatedAt + settings.ClaimLease - settings.LongestTransaction + TimeSpan.FromSeconds(1);
            await Task.Delay(confirmFrom - DateTime.UtcNow is { Ticks: > 0 } wait ? wait : TimeSpan.Zero);
        }
        finally
        {
            pool.Return(busy, reusable: false);
        }

        // The attempt finds its claim lost. It used to acknowledge the command then, the only copy, and a lease later
        // the scheduler failed the recipient as lost without it ever having been sent.
        await host.WaitForAsync<object>(p => p.Any(m => m is EmailDelivered or EmailFailed), "the email's outcome", seconds: 60);
        Assert.Empty(host.Published<EmailFailed>());
        Assert.Equal(2, Assert.Single(host.Published<EmailDelivered>()).Attempt);
        Assert.Single(_relay.Received);
        Assert.Equal(DeliveryState.Delivered, (await RecordAsync(host, email))!.State);
    }

    private static Task<DeliveryRecord?> RecordAsync(DeliveryHost host, SendEmail email) =>
        host.QueryAsync(db => db.Deliveries.AsNoTracking().SingleOrDefaultAsync(d => d.EmailId == email.EmailId));
}
