using EmailPlatform.Contracts;
using EmailPlatform.Delivery.Relays;
using EmailPlatform.Delivery.Tests.Support;
using EmailPlatform.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using MimeKit;
using SmtpServer.Protocol;

namespace EmailPlatform.Delivery.Tests.Retries;

/// <summary>The persisted retry schedule with short intervals, against a scripted relay, on both stores.</summary>
public sealed class RetryScheduleTests : IAsyncLifetime
{
    private const string Alice = "alice@example.com";

    private ScriptedSmtpServer _relay = null!;

    public async Task InitializeAsync() => _relay = await ScriptedSmtpServer.StartAsync();

    public async Task DisposeAsync() => await _relay.DisposeAsync();

    [Theory]
    [InlineData(TestStore.Sqlite)]
    [InlineData(TestStore.Postgres)]
    public async Task RelayAnswering451ThenAcceptingDeliversOnAttempt2(TestStore store)
    {
        _relay.RcptReplies[Alice] = new SmtpResponse((SmtpReplyCode)451, "4.7.1 Greylisted, try again later");
        // The greylisting ends as the second transaction begins, whenever that is: cleared once the test had seen the
        // deferral, it could still catch a retry due a second later on a loaded machine.
        var transactions = 0;
        _relay.BeforeMailFromReply = () =>
        {
            if (Interlocked.Increment(ref transactions) == 2)
            {
                _relay.RcptReplies.Clear();
            }

            return Task.CompletedTask;
        };
        var email = TestEmails.Create(to: [Alice, "bob@example.com"]);
        await using var host = await DeliveryHost.StartAsync(_relay.Port, store, ShortSchedule("00:00:01"));

        await host.SendAsync(email);
        var deferred = (await host.WaitForAsync<EmailDeferred>(d => d.Count >= 1, "the deferral")).First(d => d.Attempt == 1);

        var delivered = await host.WaitForAsync<EmailDelivered>(d => d.Any(e => e.Recipient == Alice), "the retry's delivery");
        Assert.Equal((1, 451, "4.7.1"), (deferred.Attempt, deferred.Reply?.Code, deferred.Reply?.EnhancedCode));
        Assert.Equal(deferred.Timestamp + TimeSpan.FromSeconds(1), deferred.NextAttemptAt);
        Assert.Single(host.Published<EmailDeferred>());
        Assert.Equal(2, delivered.Single(d => d.Recipient == Alice).Attempt);
        Assert.Equal(1, delivered.Single(d => d.Recipient == "bob@example.com").Attempt);
        Assert.Equal(2, _relay.Received.Count);
        Assert.Equal([Alice], _relay.Received.Last().RcptTo);
        Assert.Empty(await host.QueryAsync(db => db.RetryMessages.ToListAsync()));
    }

    [Theory]
    [InlineData(TestStore.Sqlite)]
    [InlineData(TestStore.Postgres)]
    public async Task RecipientStillDeferredWhenTheRetryWindowExpiresFails(TestStore store)
    {
        _relay.RcptReplies[Alice] = new SmtpResponse((SmtpReplyCode)451, "4.2.0 Mailbox busy");
        var email = TestEmails.Create();
        var settings = ShortSchedule("00:00:01");
        // A window no attempt outlasts however busy the machine (one of a few seconds could end before the first attempt
        // was recorded, which then failed at once, as attempt 1), shorter than the claim lease and the requeue delay: the
        // worker's clock is moved past it once alice has been deferred twice within it.
        settings["Delivery:MaxRetryAge"] = "00:05:00";
        var clock = new AdvancingClock();
        await using var host = await DeliveryHost.StartAsync(_relay.Port, store, settings, s => s.AddSingleton<TimeProvider>(clock));

        await host.SendAsync(email);
        await host.WaitForAsync<EmailDeferred>(d => d.Count >= 2, "two deferrals within the window");
        clock.Advance(TimeSpan.FromMinutes(5));

        var failed = Assert.Single(await host.WaitForAsync<EmailFailed>(f => f.Count == 1, "the expiry"));
        var deferred = host.Published<EmailDeferred>();
        Assert.StartsWith("Expired", failed.Reason, StringComparison.Ordinal);
        Assert.Equal(451, failed.Reply?.Code);
        Assert.Equal(deferred.Count + 1, failed.Attempt);
        Assert.InRange(failed.Attempt, 3, 7);
        Assert.Equal(Enumerable.Range(1, deferred.Count), deferred.Select(d => d.Attempt).Order());

        // The content stays for Delivery:FailedContentRetention (default 3 days), for a bulk retry, then goes.
        var kept = Assert.Single(await host.QueryAsync(db => db.RetryMessages.ToListAsync()));
        var now = clock.GetUtcNow().UtcDateTime;
        Assert.InRange(kept.KeepUntil!.Value, now.AddDays(3).AddMinutes(-5), now.AddDays(3));
    }

    [Fact]
    public async Task UnknownOutcomeIsRetriedWithTheSameMessageId()
    {
        // The relay takes the first copy but answers its final dot only after the worker's data timeout (1 s): an unknown
        // outcome. The retry's copy is answered at once. The first copy is kept until the deferral is seen, then stored.
        var deferralSeen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var copies = 0;
        _relay.BeforeDataReply = () => Interlocked.Increment(ref copies) == 1 ? deferralSeen.Task.WaitAsync(TimeSpan.FromSeconds(30)) : Task.CompletedTask;
        var email = TestEmails.Create();
        var settings = ShortSchedule("00:00:01");
        settings["Delivery:DataTimeout"] = "00:00:01";
        await using var host = await DeliveryHost.StartAsync(_relay.Port, settings: settings);

        await host.SendAsync(email);
        var deferred = Assert.Single(await host.WaitForAsync<EmailDeferred>(d => d.Count >= 1, "the unknown outcome", seconds: 20));
        deferralSeen.SetResult();
        var delivered = Assert.Single(await host.WaitForAsync<EmailDelivered>(d => d.Count == 1, "the retry's delivery", seconds: 20));
        var received = await Eventually.GetAsync(() => Task.FromResult(_relay.Received.ToList()), r => r.Count == 2, TimeSpan.FromSeconds(20), "both copies");

        Assert.StartsWith("Unknown outcome:", deferred.Reason, StringComparison.Ordinal);
        Assert.Equal((1, 2), (deferred.Attempt, delivered.Attempt));
        Assert.All(received, r => Assert.Equal(email.MessageId, MimeMessage.Load(new MemoryStream(r.Raw)).MessageId));
    }

    [Fact]
    public void DefaultScheduleGrowsThenRepeatsEveryFourHours()
    {
        var options = new DeliveryOptions();

        Assert.Equal(TimeSpan.FromMinutes(1), options.RetryDelayAfter(1));
        Assert.Equal(TimeSpan.FromMinutes(5), options.RetryDelayAfter(2));
        Assert.Equal(TimeSpan.FromHours(4), options.RetryDelayAfter(7));
        Assert.Equal(TimeSpan.FromHours(4), options.RetryDelayAfter(30));
        Assert.Equal(TimeSpan.FromDays(2), options.MaxRetryAge);
    }

    private static Dictionary<string, string?> ShortSchedule(string interval) => new()
    {
        ["Delivery:RetrySchedule:0"] = interval,
        ["Delivery:RetryPollInterval"] = "00:00:05",
    };
}
