using System.Diagnostics;
using EmailPlatform.Status.Storage;
using EmailPlatform.Status.Tests.Support;
using EmailPlatform.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using static EmailPlatform.Status.Tests.Webhooks.WebhookTesting;

namespace EmailPlatform.Status.Tests.Webhooks;

/// <summary>
/// Trouble in one place stays there: an endpoint that never answers in time does not hold up the other subscriptions'
/// webhooks, and housekeeping that fails does not stop due deliveries being sent.
/// </summary>
public sealed class WebhookFairnessTests
{
    private const string Bob = "bob@example.com";

    [Fact]
    public async Task EndpointThatNeverAnswersInTimeDoesNotHoldUpAnotherSubscriptionsDeliveries()
    {
        // The slow endpoint takes 30 s to answer (as one behind a black hole would never answer); the dispatcher gives up
        // after 10 s, and has two request slots of which one subscription may hold one.
        await using var slow = await WebhookReceiver.StartAsync();
        await using var fast = await WebhookReceiver.StartAsync();
        using var answerSlowly = new CancellationTokenSource();
        var slowRequests = 0;
        slow.BeforeAnswer = () =>
        {
            Interlocked.Increment(ref slowRequests);
            return Task.Delay(TimeSpan.FromSeconds(30), answerSlowly.Token);
        };

        var settings = FastRetries();
        settings["Webhooks:Timeout"] = "00:00:10";
        settings["Webhooks:BatchSize"] = "2";
        settings["Webhooks:MaxConcurrency"] = "2";
        settings["Webhooks:MaxConcurrencyPerSubscription"] = "1";
        try
        {
            await using var api = await StatusApi.StartAsync(settings);
            using var client = api.CreateClient();
            await SubscribeAsync(client, slow.Url, "email.delivered");
            await SubscribeAsync(client, fast.Url, "email.bounced");

            // Twenty deliveries to the slow endpoint, older than the bounces: first in, first out, the bounces would wait
            // for ten rounds of two timeouts, 100 s.
            var many = Guid.NewGuid();
            string[] recipients = [.. Enumerable.Range(1, 20).Select(i => $"user{i}@example.com")];
            await api.RecordAsync(TestEvents.Accepted(many, to: recipients));
            await api.RecordBatchAsync([.. recipients.Select(r => TestEvents.Delivered(many, r))]);
            await Eventually.GetAsync(() => Task.FromResult(Volatile.Read(ref slowRequests)), n => n >= 1, TimeSpan.FromSeconds(10),
                "the dispatcher sending to the slow endpoint");

            // Four bounces in one transaction, which the other endpoint answers at once, one at a time (its room is one slot
            // too): in rounds that each last as long as the slow endpoint's timeout, they would take about 30 to 40 s even
            // when taking turns. Sent as slots free up, each takes a recording and a claim (well under a second even on a
            // machine busy enough to slow those tenfold).
            var other = Guid.NewGuid();
            string[] bounced = [.. Enumerable.Range(1, 4).Select(i => $"bounced{i}@example.com")];
            await api.RecordAsync(TestEvents.Accepted(other, to: bounced));
            await api.RecordBatchAsync([.. bounced.Select(r => TestEvents.Bounced(other, r))]);
            var recorded = Stopwatch.StartNew();
            var bounces = await ReceivedAsync(fast, 4, "the bounces at the other subscription's endpoint");
            var waited = recorded.Elapsed;

            Assert.True(waited < TimeSpan.FromSeconds(20), $"The bounces reached their endpoint {waited} after they were recorded, behind the slow endpoint's deliveries.");
            Assert.All(bounces, b => Assert.Equal(200, b.Answered));
        }
        finally
        {
            await answerSlowly.CancelAsync();
        }
    }

    [Fact]
    public async Task HousekeepingThatFailsDoesNotStopDueDeliveriesFromBeingSent()
    {
        await using var receiver = await WebhookReceiver.StartAsync();

        // Housekeeping's two statements: the sweep of disabled subscriptions' pending deliveries, and the count of due ones.
        var housekeeping = new FailingCommands(sql => sql.Contains("webhook_deliveries", StringComparison.Ordinal)
            && (sql.Contains("'skipped'", StringComparison.Ordinal) || sql.Contains("count(*)", StringComparison.OrdinalIgnoreCase)));
        await using var api = await StatusApi.StartAsync(FastRetries(), services: s =>
            s.ConfigureDbContext<PostgresStatusDbContext>(o => o.AddInterceptors(housekeeping), ServiceLifetime.Singleton));
        using var client = api.CreateClient();
        await SubscribeAsync(client, receiver.Url, "email.delivered");
        await Eventually.GetAsync(() => Task.FromResult(housekeeping.Failures), n => n >= 1, TimeSpan.FromSeconds(10), "housekeeping to run and fail");

        var emailId = Guid.NewGuid();
        await api.RecordAsync(TestEvents.Accepted(emailId, to: [Bob]), TestEvents.Delivered(emailId, Bob));

        var requests = await ReceivedAsync(receiver, 1, "the delivery sent while housekeeping fails");
        Assert.Equal(200, Assert.Single(requests).Answered);
        Assert.True(housekeeping.Failures >= 1);
    }
}
