using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using EmailPlatform.Status.Storage;
using EmailPlatform.Status.Tests.Support;
using EmailPlatform.Status.Webhooks;
using EmailPlatform.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using static EmailPlatform.Status.Tests.Webhooks.WebhookTesting;

namespace EmailPlatform.Status.Tests.Webhooks;

/// <summary>Webhooks end to end: recorded events, the outbox, the dispatcher and a real HTTP receiver on loopback.</summary>
public sealed class WebhookDeliveryTests
{
    private const string Alice = "alice@example.com";

    [Fact]
    public async Task ReceiverFailingTwiceGetsTheSignedEventOnceDeliveredWithTheRetriesInTheLog()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        receiver.FailFirst = 2;
        await using var api = await StatusApi.StartAsync(FastRetries());
        using var client = api.CreateClient();
        var (subscriptionId, secret) = await SubscribeAsync(client, receiver.Url, "email.delivered");
        Assert.StartsWith("whsec_", secret, StringComparison.Ordinal);
        Assert.InRange(Convert.FromBase64String(secret["whsec_".Length..]).Length, 24, 32);

        var emailId = Guid.NewGuid();
        var delivered = TestEvents.Delivered(emailId, Alice, relay: "relay-a");
        await api.RecordAsync(TestEvents.Accepted(emailId, to: [Alice]), delivered);

        var requests = await ReceivedAsync(receiver, 3, "three attempts");
        Assert.Equal([500, 500, 200], requests.Select(r => r.Answered));
        Assert.Single(requests.Select(r => r.Id).Distinct());
        Assert.Equal(WebhookOutbox.MessageIdFor(delivered.EventId), requests[0].Id);
        Assert.All(requests, r => AssertSigned(r, secret));

        using var body = JsonDocument.Parse(requests[2].Body);
        Assert.Equal("email.delivered", body.RootElement.GetProperty("type").GetString());
        Assert.True(body.RootElement.TryGetProperty("created_at", out _));
        var data = body.RootElement.GetProperty("data");
        Assert.Equal(emailId, data.GetProperty("email_id").GetGuid());
        Assert.Equal(Alice, data.GetProperty("recipient").GetString());
        Assert.Equal("relay-a", data.GetProperty("relay").GetString());
        Assert.Equal(1, data.GetProperty("attempt").GetInt32());
        Assert.Equal(250, data.GetProperty("smtp").GetProperty("code").GetInt32());
        Assert.Equal("2.0.0", data.GetProperty("smtp").GetProperty("enhanced_code").GetString());
        Assert.Equal("receipt", data.GetProperty("tags")[0].GetProperty("value").GetString());
        Assert.Equal("A-1001", data.GetProperty("metadata").GetProperty("order_id").GetString());

        var log = await Eventually.GetAsync(() => DeliveriesAsync(client, subscriptionId),
            l => l.GetProperty("data")[0].GetProperty("status").GetString() == "delivered", TimeSpan.FromSeconds(10), "the delivery marked delivered");
        var delivery = Assert.Single(log.GetProperty("data").EnumerateArray());
        Assert.Equal(3, delivery.GetProperty("attempts").GetInt32());
        Assert.Equal(200, delivery.GetProperty("last_status_code").GetInt32());
        Assert.Equal(JsonValueKind.Null, delivery.GetProperty("next_attempt_at").ValueKind);
        var attempts = delivery.GetProperty("log").EnumerateArray().ToList();
        Assert.Equal([(1, 500), (2, 500), (3, 200)], attempts.Select(a => (a.GetProperty("attempt").GetInt32(), a.GetProperty("status_code").GetInt32())));
        Assert.All(attempts, a => Assert.True(a.GetProperty("latency_ms").GetInt32() >= 0));
        Assert.Contains("500", attempts[0].GetProperty("error").GetString(), StringComparison.Ordinal);

        // Delivered means done: nothing more arrives, and the accepted event (not subscribed) never did.
        await SettleAfterALaterDeliveryAsync(api, receiver, 4);
    }

    [Fact]
    public async Task ReplayingADeliveryOrATimeRangeSendsTheSameMessagesAgain()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        await using var api = await StatusApi.StartAsync(FastRetries());
        using var client = api.CreateClient();
        var (subscriptionId, secret) = await SubscribeAsync(client, receiver.Url, "email.delivered", "email.bounced");
        var emailId = Guid.NewGuid();
        var before = DateTimeOffset.UtcNow.AddMinutes(-1);
        var toAlice = TestEvents.Delivered(emailId, Alice);
        var toBob = TestEvents.Bounced(emailId, "bob@example.com");
        await api.RecordAsync(TestEvents.Accepted(emailId, to: [Alice, "bob@example.com"]), toAlice, toBob);
        var first = await ReceivedAsync(receiver, 2, "both events");

        var log = await Eventually.GetAsync(() => DeliveriesAsync(client, subscriptionId),
            l => l.GetProperty("data").EnumerateArray().All(d => d.GetProperty("status").GetString() == "delivered"), TimeSpan.FromSeconds(10), "both delivered");
        var bounce = log.GetProperty("data").EnumerateArray().Single(d => d.GetProperty("event_type").GetString() == "email.bounced");
        var bounceId = bounce.GetProperty("id").GetGuid();

        using (var replay = await client.PostAsync(new Uri($"/v1/webhooks/{subscriptionId}/deliveries/{bounceId}/replay", UriKind.Relative), null))
        {
            Assert.Equal(HttpStatusCode.Accepted, replay.StatusCode);
        }

        var afterOne = await ReceivedAsync(receiver, 3, "the replayed delivery");
        Assert.Equal(WebhookOutbox.MessageIdFor(toBob.EventId), afterOne[2].Id);
        Assert.Equal(first.Single(r => r.Id == afterOne[2].Id).Body, afterOne[2].Body);
        AssertSigned(afterOne[2], secret);

        using (var range = await client.PostAsJsonAsync(new Uri($"/v1/webhooks/{subscriptionId}/replay", UriKind.Relative),
            new { from = before, to = DateTimeOffset.UtcNow.AddMinutes(1) }))
        {
            Assert.Equal(HttpStatusCode.Accepted, range.StatusCode);
            using var json = JsonDocument.Parse(await range.Content.ReadAsStringAsync());
            Assert.Equal(2, json.RootElement.GetProperty("replayed").GetInt32());
        }

        var all = await ReceivedAsync(receiver, 5, "the replayed range");
        Assert.Equal(
            new[] { WebhookOutbox.MessageIdFor(toAlice.EventId), WebhookOutbox.MessageIdFor(toBob.EventId) }.Order(),
            all.Skip(3).Select(r => r.Id).Order());

        using var missing = await client.PostAsync(new Uri($"/v1/webhooks/{subscriptionId}/deliveries/{Guid.NewGuid()}/replay", UriKind.Relative), null);
        await ProblemAssert.IsProblemAsync(missing, HttpStatusCode.NotFound, "not_found");

        // The log pages newest first, each page after the last id of the one before: the range replay made its two
        // deliveries in one instant, and neither is skipped nor shown twice.
        var paged = new List<Guid>();
        string? pageBefore = null;
        do
        {
            var page = await GetJsonAsync(client, $"/v1/webhooks/{subscriptionId}/deliveries?limit=2" + (pageBefore is null ? "" : $"&before={pageBefore}"));
            var ids = page.GetProperty("data").EnumerateArray().Select(d => d.GetProperty("id").GetGuid()).ToList();
            paged.AddRange(ids);
            pageBefore = page.GetProperty("has_more").GetBoolean() ? ids[^1].ToString() : null;
        }
        while (pageBefore is not null && paged.Count < 20);

        Assert.Equal(5, paged.Distinct().Count());
        Assert.Equal(5, paged.Count);
        using var unknownBefore = await client.GetAsync(new Uri($"/v1/webhooks/{subscriptionId}/deliveries?before={Guid.NewGuid()}", UriKind.Relative));
        await ProblemAssert.IsValidationProblemAsync(unknownBefore, "validation_error", "before");
    }

    [Fact]
    public async Task SubscriptionDeletedWhileItsDeliveryIsSentDoesNotCostTheOtherSubscriptionsTheirRecordedAttempt()
    {
        await using var kept = await WebhookReceiver.StartAsync();
        await using var deleted = await WebhookReceiver.StartAsync();
        await using var api = await StatusApi.StartAsync(FastRetries());
        using var client = api.CreateClient();
        var (keptId, _) = await SubscribeAsync(client, kept.Url, "email.delivered");
        var (deletedId, _) = await SubscribeAsync(client, deleted.Url, "email.delivered");
        var subscriptionDeleted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        deleted.BeforeAnswer = async () =>
        {
            using var delete = await client.DeleteAsync(new Uri($"/v1/webhooks/{deletedId}", UriKind.Relative));
            Assert.Equal(HttpStatusCode.NoContent, delete.StatusCode);
            subscriptionDeleted.TrySetResult();
        };
        // The kept receiver answers once the other subscription is gone, so that both attempts finish together and the
        // deleted one's row is missing when they are recorded (the dispatcher records each attempt as it finishes).
        kept.BeforeAnswer = () => subscriptionDeleted.Task.WaitAsync(TimeSpan.FromSeconds(10));
        var emailId = Guid.NewGuid();

        await api.RecordAsync(TestEvents.Accepted(emailId, to: [Alice]), TestEvents.Delivered(emailId, Alice));

        var log = await Eventually.GetAsync(() => DeliveriesAsync(client, keptId),
            l => l.GetProperty("data").EnumerateArray().Any(d => d.GetProperty("status").GetString() == "delivered"), TimeSpan.FromSeconds(15),
            "the kept subscription's delivery recorded as delivered");
        Assert.Equal(1, Assert.Single(log.GetProperty("data").EnumerateArray()).GetProperty("attempts").GetInt32());
        Assert.True(subscriptionDeleted.Task.IsCompletedSuccessfully, "the subscription was deleted while its delivery was sent");
        await Eventually.GetAsync(() => Task.FromResult(deleted.Requests.Count), n => n > 0, TimeSpan.FromSeconds(5), "the deleted subscription's request answered");
        Assert.Single(deleted.Requests);

        // The kept delivery was not sent again.
        await SettleAfterALaterDeliveryAsync(api, kept, 2);
        Assert.Single(deleted.Requests);
    }

    /// <summary>
    /// A subscription is disabled while its delivery is in flight (the disable marks it skipped), and the attempt fails.
    /// The round's one save fails (as when another delivery of the round was deleted meanwhile, with its subscription or
    /// an erased recipient), so each attempt is saved on its own. That save wrote every column of the delivery as the
    /// dispatcher had read it, pending, over the skip: re-enabled, the subscription would have been sent it late, which
    /// the skip is there to prevent.
    /// </summary>
    [Fact]
    public async Task ADeliverySkippedWhileInFlightStaysSkippedWhenItsFailedAttemptIsSavedOnItsOwn()
    {
        // The round's save (the delivery's update with its attempt) fails once, as a deleted row fails it.
        var failing = new FailingStatements("INSERT INTO webhook_attempts");
        failing.Failure = () =>
        {
            failing.Armed = false;
            return new PostgresException("insert or update violates foreign key constraint", "ERROR", "ERROR", PostgresErrorCodes.ForeignKeyViolation);
        };
        await using var receiver = await WebhookReceiver.StartAsync();
        await using var api = await StatusApi.StartAsync(FastRetries(), s => s.ConfigureDbContext<PostgresStatusDbContext>(o => o.AddInterceptors(failing)));
        using var client = api.CreateClient();
        var (subscriptionId, _) = await SubscribeAsync(client, receiver.Url, "email.delivered");
        receiver.FailAll = true;
        receiver.BeforeAnswer = async () =>
        {
            using var patch = await client.PatchAsJsonAsync(new Uri($"/v1/webhooks/{subscriptionId}", UriKind.Relative), new { enabled = false });
            Assert.Equal(HttpStatusCode.OK, patch.StatusCode);
            failing.Armed = true;
        };
        var emailId = Guid.NewGuid();

        await api.RecordAsync(TestEvents.Accepted(emailId, to: [Alice]), TestEvents.Delivered(emailId, Alice));

        var log = await Eventually.GetAsync(() => DeliveriesAsync(client, subscriptionId),
            l => l.GetProperty("data").EnumerateArray().Any(d => d.GetProperty("attempts").GetInt32() == 1), TimeSpan.FromSeconds(15),
            "the failed attempt recorded");
        Assert.Equal(1, failing.Failed);
        Assert.Equal("skipped", Assert.Single(log.GetProperty("data").EnumerateArray()).GetProperty("status").GetString());
    }

    [Fact]
    public async Task DispatcherStoppedMidRoundRecordsTheAttemptsAlreadyAnsweredAndHandsTheRestBackAtOnce()
    {
        await using var database = await TemporaryDatabase.CreateAsync();
        await using var answering = await WebhookReceiver.StartAsync();
        await using var holding = await WebhookReceiver.StartAsync();
        var held = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        holding.BeforeAnswer = async () =>
        {
            held.TrySetResult();
            await release.Task;
        };

        await using var api = await StatusApi.StartAsync(FastRetries(), database: database);
        using var client = api.CreateClient();
        var (answeringId, _) = await SubscribeAsync(client, answering.Url, "email.delivered");
        var (holdingId, _) = await SubscribeAsync(client, holding.Url, "email.delivered");

        // The attempt's span ends once the sender has its result, which the dispatcher then keeps whatever happens next.
        var answered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == "EmailPlatform.Status",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = activity =>
            {
                if (Equals(activity.GetTagItem("emailplatform.webhook.subscription_id"), answeringId) && Equals(activity.GetTagItem("http.response.status_code"), 200))
                {
                    answered.TrySetResult();
                }
            },
        };
        ActivitySource.AddActivityListener(listener);

        // One event, one delivery per subscription, both claimed in one round.
        var emailId = Guid.NewGuid();
        await api.RecordAsync(TestEvents.Accepted(emailId, to: [Alice]), TestEvents.Delivered(emailId, Alice));
        await Task.WhenAll(answered.Task, held.Task).WaitAsync(TimeSpan.FromSeconds(20));

        // A stop (SIGTERM) mid-round cancels the request still waiting for its answer rather than waiting for its timeout.
        await api.Services.GetRequiredService<WebhookDispatcher>().StopAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(5));
        release.SetResult();
        // Released, the receiver records the request cut short, on a thread of its own: awaited before the next replica
        // sends the delivery again, so that both requests are there to be counted below.
        await Eventually.GetAsync(() => Task.FromResult(holding.Requests.Count), n => n > 0, TimeSpan.FromSeconds(20), "the request cut short recorded");
        Assert.Single(holding.Requests);

        var deliveries = await api.WithStoreAsync(db => db.WebhookDeliveries.AsNoTracking().ToDictionaryAsync(d => d.SubscriptionId));
        var delivered = deliveries[answeringId];
        Assert.Equal((WebhookDeliveryStatus.Delivered, 1, 200), (delivered.Status, delivered.Attempts, delivered.LastStatusCode));
        Assert.Null(delivered.LockedUntil);
        var cutShort = deliveries[holdingId];
        Assert.Equal((WebhookDeliveryStatus.Pending, 0, (DateTime?)null), (cutShort.Status, cutShort.Attempts, cutShort.LockedUntil));

        // Handed back, not left to its lease: another replica sends the one cut short at once, and only that one.
        await using var next = await StatusApi.StartAsync(FastRetries(), database: database);
        await Eventually.GetAsync(() => next.WithStoreAsync(db => db.WebhookDeliveries.AsNoTracking().SingleAsync(d => d.SubscriptionId == holdingId)),
            d => d.Status == WebhookDeliveryStatus.Delivered, TimeSpan.FromSeconds(20), "the delivery cut short sent again");
        Assert.Equal(2, holding.Requests.Count);
        // The replica's dispatcher stopped, and the receiver has answered all it got: the other delivery was not sent again.
        await next.Services.GetRequiredService<WebhookDispatcher>().StopAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(20));
        await answering.StopAsync();
        Assert.Single(answering.Requests);
    }

    [Fact]
    public async Task SubscriptionFailingContinuouslyIsDisabledItsPendingDeliverySkippedAndAReplaySendsItAfterReEnabling()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        receiver.FailAll = true;
        var settings = FastRetries(retries: 10);
        settings["Webhooks:DisableAfter"] = "00:00:00";
        settings["Webhooks:DisableAfterFailures"] = "3";
        await using var api = await StatusApi.StartAsync(settings);
        using var client = api.CreateClient();
        var (subscriptionId, _) = await SubscribeAsync(client, receiver.Url, "email.delivered");
        var before = DateTimeOffset.UtcNow.AddMinutes(-1);
        var emailId = Guid.NewGuid();
        await api.RecordAsync(TestEvents.Accepted(emailId, to: [Alice]), TestEvents.Delivered(emailId, Alice));

        var disabled = await Eventually.GetAsync(() => GetJsonAsync(client, $"/v1/webhooks/{subscriptionId}"),
            s => !s.GetProperty("enabled").GetBoolean(), TimeSpan.FromSeconds(20), "the subscription disabled");
        Assert.False(string.IsNullOrEmpty(disabled.GetProperty("disabled_reason").GetString()));
        Assert.NotEqual(JsonValueKind.Null, disabled.GetProperty("disabled_at").ValueKind);
        // The disable is an event on the subscription's record, by no API key (the service did it), with its reason.
        var disabledEvent = Assert.Single(disabled.GetProperty("history").EnumerateArray());
        Assert.Equal(("webhook.disabled", JsonValueKind.Null, disabled.GetProperty("disabled_reason").GetString(), disabled.GetProperty("disabled_at").GetDateTime()),
            (disabledEvent.GetProperty("action").GetString(), disabledEvent.GetProperty("actor").ValueKind, disabledEvent.GetProperty("reason").GetString(),
                disabledEvent.GetProperty("occurred_at").GetDateTime()));
        // The dispatcher commits the disable, then skips what the subscription has pending in a statement of its own.
        var log = await Eventually.GetAsync(() => DeliveriesAsync(client, subscriptionId),
            l => l.GetProperty("data").EnumerateArray().All(d => d.GetProperty("status").GetString() != "pending"), TimeSpan.FromSeconds(20),
            "the pending delivery skipped");
        var skipped = Assert.Single(log.GetProperty("data").EnumerateArray());
        Assert.Equal(("skipped", DisabledSubscriptions.Reason), (skipped.GetProperty("status").GetString(), skipped.GetProperty("last_error").GetString()));
        Assert.Equal(JsonValueKind.Null, skipped.GetProperty("next_attempt_at").ValueKind);
        Assert.Equal(3, receiver.Requests.Count);

        // Events recorded while disabled are not queued for it (a range replay can send them later).
        var other = Guid.NewGuid();
        await api.RecordAsync(TestEvents.Accepted(other, to: [Alice]), TestEvents.Delivered(other, Alice));
        Assert.Equal(1, await api.WithStoreAsync(db => db.WebhookDeliveries.CountAsync()));

        receiver.FailAll = false;
        using (var patch = await client.PatchAsJsonAsync(new Uri($"/v1/webhooks/{subscriptionId}", UriKind.Relative), new { enabled = true }))
        {
            Assert.Equal(HttpStatusCode.OK, patch.StatusCode);
            using var json = JsonDocument.Parse(await patch.Content.ReadAsStringAsync());
            Assert.True(json.RootElement.GetProperty("enabled").GetBoolean());
            Assert.Equal(JsonValueKind.Null, json.RootElement.GetProperty("disabled_reason").ValueKind);
        }

        // Re-enabled, it keeps the record of the automatic disable, newest first.
        var history = (await GetJsonAsync(client, $"/v1/webhooks/{subscriptionId}")).GetProperty("history").EnumerateArray()
            .Select(e => (e.GetProperty("action").GetString(), e.GetProperty("actor").GetString())).ToList();
        Assert.Equal([("webhook.enabled", "bootstrap"), ("webhook.disabled", (string?)null)], history);

        using (var replay = await client.PostAsJsonAsync(new Uri($"/v1/webhooks/{subscriptionId}/replay", UriKind.Relative),
            new { from = before, to = DateTimeOffset.UtcNow.AddMinutes(1) }))
        {
            Assert.Equal(HttpStatusCode.Accepted, replay.StatusCode);
        }

        var requests = await ReceivedAsync(receiver, 5, "both events replayed after re-enabling");
        Assert.All(requests.Skip(3), r => Assert.Equal(200, r.Answered));
        Assert.Contains(requests.Skip(3), r => r.Id == requests[0].Id);
        Assert.Equal("skipped", (await api.WithStoreAsync(db => db.WebhookDeliveries.SingleAsync(d => d.Id == skipped.GetProperty("id").GetGuid()))).Status);
    }

    /// <summary>
    /// A subscription with little to send fails twice, has nothing to send for longer than a run's gap (twice the longest
    /// retry wait and a timeout: 11 s here), then fails twice more: two runs of two, not one of four, so it stays enabled.
    /// Before, the count went on across the quiet spell and the first failure after it disabled the subscription, as if
    /// its receiver had been failing all along.
    /// </summary>
    [Fact]
    public async Task FailuresAfterAQuietSpellStartANewRunAndDoNotDisableTheSubscription()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        receiver.FailAll = true;
        var settings = FastRetries(retries: 0);
        settings["Webhooks:RetrySchedule:0"] = "00:00:00.500";
        settings["Webhooks:Timeout"] = "00:00:10";
        settings["Webhooks:DisableAfter"] = "00:00:00";
        settings["Webhooks:DisableAfterFailures"] = "3";
        await using var api = await StatusApi.StartAsync(settings);
        using var client = api.CreateClient();
        var (subscriptionId, _) = await SubscribeAsync(client, receiver.Url, "email.delivered");

        foreach (var quiet in new[] { TimeSpan.Zero, TimeSpan.FromSeconds(15) })
        {
            await Task.Delay(quiet);
            var emailId = Guid.NewGuid();
            await api.RecordAsync(TestEvents.Accepted(emailId, to: [Alice]), TestEvents.Delivered(emailId, Alice));
            await Eventually.GetAsync(() => api.WithStoreAsync(db => db.WebhookDeliveries.AsNoTracking().SingleAsync(d => d.EmailId == emailId)),
                d => d.Status == WebhookDeliveryStatus.Failed, TimeSpan.FromSeconds(20), "the delivery failed twice");
            var subscription = await Eventually.GetAsync(() => GetJsonAsync(client, $"/v1/webhooks/{subscriptionId}"),
                s => s.GetProperty("consecutive_failures").GetInt32() == 2, TimeSpan.FromSeconds(20), "a run of two failures");
            Assert.True(subscription.GetProperty("enabled").GetBoolean());
        }

        Assert.Equal(4, receiver.Requests.Count);
    }

    /// <summary>
    /// A subscription disabled during an outage missed a delivery (skipped at the disable: its event happened before it)
    /// and an event (recorded while it was disabled). A range replay wide enough to cover both sends everything in it
    /// again; with <c>only_undelivered</c> it sends those two alone, and nothing a second time.
    /// </summary>
    [Fact]
    public async Task ARangeReplayOfTheUndeliveredSendsWhatADisabledSubscriptionMissedAndNothingItHas()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        var settings = FastRetries(retries: 0);
        settings["Webhooks:RetrySchedule:0"] = "01:00:00";
        await using var api = await StatusApi.StartAsync(settings);
        using var client = api.CreateClient();
        var (subscriptionId, _) = await SubscribeAsync(client, receiver.Url, "email.delivered");
        var from = DateTimeOffset.UtcNow.AddMinutes(-1);
        var (delivered, skipped, missed) = (Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid());
        await api.RecordAsync(TestEvents.Accepted(delivered, to: [Alice]), TestEvents.Delivered(delivered, Alice));
        await Eventually.GetAsync(() => DeliveriesAsync(client, subscriptionId),
            l => l.GetProperty("data")[0].GetProperty("status").GetString() == "delivered", TimeSpan.FromSeconds(20), "the first event delivered");
        receiver.FailAll = true;
        await api.RecordAsync(TestEvents.Accepted(skipped, to: [Alice]), TestEvents.Delivered(skipped, Alice));
        await Eventually.GetAsync(() => DeliveriesAsync(client, subscriptionId),
            l => l.GetProperty("data")[0].GetProperty("attempts").GetInt32() == 1, TimeSpan.FromSeconds(20), "the second event's failed attempt");
        await SetEnabledAsync(client, subscriptionId, false);
        await api.RecordAsync(TestEvents.Accepted(missed, to: [Alice]), TestEvents.Delivered(missed, Alice));
        receiver.FailAll = false;
        await SetEnabledAsync(client, subscriptionId, true);

        var replay = await ReplayAsync(client, subscriptionId, new { from, to = DateTimeOffset.UtcNow.AddMinutes(1), only_undelivered = true });

        Assert.Equal(2, replay.GetProperty("replayed").GetInt32());
        var requests = await Eventually.GetAsync(() => Task.FromResult(receiver.Succeeded), r => r.Count >= 3, TimeSpan.FromSeconds(20), "the replays");
        Assert.Equal(new[] { skipped, missed }.Order(), requests.Skip(1).Select(EmailIdOf).Order());
        // Both are now delivered or on their way: nothing is left to send.
        Assert.Equal(0, (await ReplayAsync(client, subscriptionId, new { from, to = DateTimeOffset.UtcNow.AddMinutes(1), only_undelivered = true }))
            .GetProperty("replayed").GetInt32());
        Assert.Equal(3, (await ReplayAsync(client, subscriptionId, new { from, to = DateTimeOffset.UtcNow.AddMinutes(1) })).GetProperty("replayed").GetInt32());
    }

    private static async Task SetEnabledAsync(HttpClient client, Guid subscriptionId, bool enabled)
    {
        using var patch = await client.PatchAsJsonAsync(new Uri($"/v1/webhooks/{subscriptionId}", UriKind.Relative), new { enabled });
        Assert.Equal(HttpStatusCode.OK, patch.StatusCode);
    }

    private static async Task<JsonElement> ReplayAsync(HttpClient client, Guid subscriptionId, object range)
    {
        using var replay = await client.PostAsJsonAsync(new Uri($"/v1/webhooks/{subscriptionId}/replay", UriKind.Relative), range);
        Assert.Equal(HttpStatusCode.Accepted, replay.StatusCode);
        return JsonDocument.Parse(await replay.Content.ReadAsStringAsync()).RootElement.Clone();
    }

    private static Guid EmailIdOf(ReceivedWebhook request)
    {
        using var body = JsonDocument.Parse(request.Body);
        return body.RootElement.GetProperty("data").GetProperty("email_id").GetGuid();
    }

    [Fact]
    public async Task DisablingThroughTheApiSkipsPendingDeliveriesWhichAreNotSentAfterReEnablingAndAttemptsShowInMetrics()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        receiver.FailAll = true;
        var settings = FastRetries(retries: 0);
        settings["Webhooks:RetrySchedule:0"] = "01:00:00";
        await using var api = await StatusApi.StartAsync(settings);
        using var client = api.CreateClient();
        var (subscriptionId, _) = await SubscribeAsync(client, receiver.Url, "email.delivered");
        var first = Guid.NewGuid();
        await api.RecordAsync(TestEvents.Accepted(first, to: [Alice]), TestEvents.Delivered(first, Alice));
        var failed = await ReceivedAsync(receiver, 1, "the first, failed attempt");
        await Eventually.GetAsync(() => DeliveriesAsync(client, subscriptionId),
            l => l.GetProperty("data")[0].GetProperty("attempts").GetInt32() == 1, TimeSpan.FromSeconds(20), "the failed attempt recorded");

        using (var patch = await client.PatchAsJsonAsync(new Uri($"/v1/webhooks/{subscriptionId}", UriKind.Relative), new { enabled = false }))
        {
            Assert.Equal(HttpStatusCode.OK, patch.StatusCode);
        }

        var skipped = Assert.Single((await DeliveriesAsync(client, subscriptionId)).GetProperty("data").EnumerateArray());
        Assert.Equal("skipped", skipped.GetProperty("status").GetString());
        Assert.Equal(JsonValueKind.Null, skipped.GetProperty("next_attempt_at").ValueKind);

        receiver.FailAll = false;
        using (var patch = await client.PatchAsJsonAsync(new Uri($"/v1/webhooks/{subscriptionId}", UriKind.Relative), new { enabled = true }))
        {
            Assert.Equal(HttpStatusCode.OK, patch.StatusCode);
        }

        // A new event goes out; the skipped one, even once its retry would have been due, does not.
        await api.WithStoreAsync(db => db.WebhookDeliveries.ExecuteUpdateAsync(s => s.SetProperty(d => d.NextAttemptAt, DateTime.UtcNow.AddMinutes(-1))));
        var second = Guid.NewGuid();
        await api.RecordAsync(TestEvents.Accepted(second, to: [Alice]), TestEvents.Delivered(second, Alice));
        var requests = await Eventually.GetAsync(() => Task.FromResult(receiver.Succeeded), r => r.Count >= 1, TimeSpan.FromSeconds(20), "the new event");
        Assert.NotEqual(failed[0].Id, requests[0].Id);
        Assert.Single(receiver.Requests, r => r.Id == failed[0].Id);

        // The receiver has the request before the sender has the answer, and counts the attempt.
        const string Succeeded = "emailplatform_webhook_deliveries_total\\{[^}]*emailplatform_outcome=\"success\"";
        var metrics = await Eventually.GetAsync(() => client.GetStringAsync(new Uri("/metrics", UriKind.Relative)),
            m => Regex.IsMatch(m, Succeeded), TimeSpan.FromSeconds(20), "the successful attempt counted");
        Assert.Matches("emailplatform_webhook_deliveries_total\\{[^}]*emailplatform_outcome=\"failure\"", metrics);
        Assert.Matches(Succeeded, metrics);
        Assert.Matches("emailplatform_webhook_failures_total\\{[^}]*error_type=\"5xx\"", metrics);
        Assert.Contains("emailplatform_webhook_delivery_duration_seconds_bucket", metrics, StringComparison.Ordinal);
        Assert.Contains("emailplatform_webhook_pending", metrics, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ReplayToADisabledSubscriptionIsAConflictAndQueuesNothing()
    {
        await using var api = await StatusApi.StartAsync(FastRetries());
        using var client = api.CreateClient();
        var (subscriptionId, _) = await SubscribeAsync(client, new Uri("http://127.0.0.1:9/hooks"), "email.delivered");
        var before = DateTimeOffset.UtcNow.AddMinutes(-1);
        var emailId = Guid.NewGuid();
        await api.RecordAsync(TestEvents.Accepted(emailId, to: [Alice]), TestEvents.Delivered(emailId, Alice));
        using (var patch = await client.PatchAsJsonAsync(new Uri($"/v1/webhooks/{subscriptionId}", UriKind.Relative), new { enabled = false }))
        {
            Assert.Equal(HttpStatusCode.OK, patch.StatusCode);
        }

        var deliveryId = Assert.Single((await DeliveriesAsync(client, subscriptionId)).GetProperty("data").EnumerateArray()).GetProperty("id").GetGuid();

        // Accepted, they would only be marked skipped: the dispatcher sends nothing to a disabled subscription.
        using (var one = await client.PostAsync(new Uri($"/v1/webhooks/{subscriptionId}/deliveries/{deliveryId}/replay", UriKind.Relative), null))
        {
            await ProblemAssert.IsDetailedProblemAsync(one, HttpStatusCode.Conflict, "subscription_disabled");
        }

        using (var range = await client.PostAsJsonAsync(new Uri($"/v1/webhooks/{subscriptionId}/replay", UriKind.Relative),
            new { from = before, to = DateTimeOffset.UtcNow.AddMinutes(1) }))
        {
            await ProblemAssert.IsDetailedProblemAsync(range, HttpStatusCode.Conflict, "subscription_disabled");
        }

        Assert.Equal([deliveryId], await api.WithStoreAsync(db => db.WebhookDeliveries.Select(d => d.Id).ToListAsync()));
    }

    [Fact]
    public async Task DeliveryLogStatusFilterTakesOneDeliveryStatusByName()
    {
        // Nothing listens on port 9: the one attempt fails, and the next is an hour away.
        var settings = FastRetries(retries: 0);
        settings["Webhooks:RetrySchedule:0"] = "01:00:00";
        await using var api = await StatusApi.StartAsync(settings);
        using var client = api.CreateClient();
        var (subscriptionId, _) = await SubscribeAsync(client, new Uri("http://127.0.0.1:9/hooks"), "email.delivered");
        var emailId = Guid.NewGuid();
        await api.RecordAsync(TestEvents.Accepted(emailId, to: [Alice]), TestEvents.Delivered(emailId, Alice));
        // Disabled once that attempt is recorded: one still in flight would be marked skipped only by the next housekeeping pass.
        await Eventually.GetAsync(() => DeliveriesAsync(client, subscriptionId),
            l => l.GetProperty("data").EnumerateArray().Any(d => d.GetProperty("attempts").GetInt32() == 1), TimeSpan.FromSeconds(20), "the failed attempt recorded");
        using (var patch = await client.PatchAsJsonAsync(new Uri($"/v1/webhooks/{subscriptionId}", UriKind.Relative), new { enabled = false }))
        {
            Assert.Equal(HttpStatusCode.OK, patch.StatusCode);
        }

        Assert.Single((await GetJsonAsync(client, $"/v1/webhooks/{subscriptionId}/deliveries?status=Skipped")).GetProperty("data").EnumerateArray());
        Assert.Empty((await GetJsonAsync(client, $"/v1/webhooks/{subscriptionId}/deliveries?status=pending")).GetProperty("data").EnumerateArray());

        // Not an empty page, which reads as "none of them": a status that does not exist is the client's mistake.
        foreach (var status in new[] { "skiped", "pending,skipped", "%20skipped", "0" })
        {
            using var response = await client.GetAsync(new Uri($"/v1/webhooks/{subscriptionId}/deliveries?status={status}", UriKind.Relative));
            var problem = await ProblemAssert.IsValidationProblemAsync(response, "validation_error", "status");
            Assert.Contains("pending, delivered, failed, skipped", problem.GetProperty("errors").GetProperty("status")[0].GetString(), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task DeliveryLogLimitOutOfRangeOrNotANumberIsAValidationProblemNotClamped()
    {
        await using var api = await StatusApi.StartAsync(FastRetries());
        using var client = api.CreateClient();
        var (subscriptionId, _) = await SubscribeAsync(client, new Uri("http://127.0.0.1:9/hooks"), "email.delivered");

        // As GET /v1/emails answers: a page size the client did not ask for would read as "that is all there is".
        foreach (var limit in new[] { "0", "-1", "101", "1000", "ten", "1.5", "%2B5", "" })
        {
            using var response = await client.GetAsync(new Uri($"/v1/webhooks/{subscriptionId}/deliveries?limit={limit}", UriKind.Relative));
            var problem = await ProblemAssert.IsValidationProblemAsync(response, "validation_error", "limit");
            Assert.Contains("1 and 100", problem.GetProperty("errors").GetProperty("limit")[0].GetString(), StringComparison.Ordinal);
        }

        foreach (var limit in new[] { "1", "100" })
        {
            Assert.Empty((await GetJsonAsync(client, $"/v1/webhooks/{subscriptionId}/deliveries?limit={limit}")).GetProperty("data").EnumerateArray());
        }
    }

    [Fact]
    public async Task PrivateTargetStoredBehindTheApisBackIsRefusedAtSendTime()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        var settings = FastRetries();
        settings["Webhooks:AllowPrivateTargets"] = "false";
        await using var api = await StatusApi.StartAsync(settings);
        using var client = api.CreateClient();
        var subscriptionId = Guid.NewGuid();
        await api.WithStoreAsync(async db =>
        {
            db.WebhookSubscriptions.Add(new WebhookSubscriptionRecord
            {
                Id = subscriptionId, Url = receiver.Url.ToString(), Events = ["email.delivered"], Secret = WebhookSignature.NewSecret(),
                CreatedAt = DateTime.UtcNow, UpdatedAt = DateTime.UtcNow,
            });
            return await db.SaveChangesAsync();
        });

        var emailId = Guid.NewGuid();
        await api.RecordAsync(TestEvents.Accepted(emailId, to: [Alice]), TestEvents.Delivered(emailId, Alice));

        var log = await Eventually.GetAsync(() => DeliveriesAsync(client, subscriptionId),
            l => l.GetProperty("data")[0].GetProperty("attempts").GetInt32() >= 1, TimeSpan.FromSeconds(10), "a refused attempt");
        var delivery = log.GetProperty("data")[0];
        Assert.Equal("pending", delivery.GetProperty("status").GetString());
        Assert.Contains("private", delivery.GetProperty("last_error").GetString(), StringComparison.Ordinal);
        Assert.Equal(JsonValueKind.Null, delivery.GetProperty("last_status_code").ValueKind);
        Assert.Empty(receiver.Requests);
    }
}
