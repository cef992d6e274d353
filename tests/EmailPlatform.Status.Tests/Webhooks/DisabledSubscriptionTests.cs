using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using EmailPlatform.Status.Storage;
using EmailPlatform.Status.Tests.Support;
using EmailPlatform.Status.Webhooks;
using EmailPlatform.Testing;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using static EmailPlatform.Status.Tests.Webhooks.WebhookTesting;

namespace EmailPlatform.Status.Tests.Webhooks;

/// <summary>
/// A subscription disabled after days of failure has a great many deliveries pending: they are marked skipped a batch
/// at a time, the disable itself never waits on that or fails with it, and none of them is sent meanwhile.
/// </summary>
public sealed class DisabledSubscriptionTests
{
    private const string Alice = "alice@example.com";

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task PendingDeliveriesOfADisabledSubscriptionAreSkippedAThousandAStatementABoundedNumberAPass(bool postgres)
    {
        await using var store = postgres ? await StatusStore.PostgresAsync() : await StatusStore.SqliteAsync();
        var now = DateTime.UtcNow;
        WebhookSubscriptionRecord Subscription(bool enabled, DateTime? deletedAt = null) => new()
        {
            Id = Guid.CreateVersion7(), Url = "https://93.184.215.14/hooks", Secret = "whsec_x", CreatedAt = now, UpdatedAt = now,
            Enabled = enabled, DisabledAt = enabled ? null : now, DeletedAt = deletedAt,
        };
        var (disabled, enabled, deleted) = (Subscription(false), Subscription(true), Subscription(false, deletedAt: now));
        await using (var db = store.NewContext())
        {
            db.WebhookSubscriptions.AddRange(disabled, enabled, deleted);
            // Its past first, delivered, then what piled up pending while it failed.
            db.WebhookDeliveries.AddRange(History(disabled.Id, 10_000, WebhookDeliveryStatus.Delivered, from: now.AddDays(-3)));
            db.WebhookDeliveries.AddRange(History(disabled.Id, 2_500));
            db.WebhookDeliveries.AddRange(History(enabled.Id, 5));
            db.WebhookDeliveries.AddRange(History(deleted.Id, 5));
            await db.SaveChangesAsync();
            if (postgres)
            {
                await db.Database.ExecuteSqlRawAsync("ANALYZE webhook_deliveries");
            }
        }

        var statements = new StatementLog();
        var plans = new PlanRecorder(writes: true);
        await using (var db = store.NewContext(statements, plans))
        {
            // A pass of at most two statements leaves the rest pending for the next one.
            Assert.Equal(2_000, await DisabledSubscriptions.SkipAllPendingAsync(db, batchSize: 1_000, maxBatches: 2, CancellationToken.None));
            Assert.Equal([1_000, 1_000], statements.RowsOf("UPDATE webhook_deliveries"));
            Assert.Equal(500, await db.WebhookDeliveries.CountAsync(d => d.SubscriptionId == disabled.Id && d.Status == WebhookDeliveryStatus.Pending));

            Assert.Equal(500, await DisabledSubscriptions.SkipAllPendingAsync(db, batchSize: 1_000, maxBatches: 2, CancellationToken.None));
            Assert.Equal([1_000, 1_000, 500], statements.RowsOf("UPDATE webhook_deliveries"));
        }

        await using (var db = store.NewContext())
        {
            var byStatus = await db.WebhookDeliveries.AsNoTracking().Where(d => d.SubscriptionId == disabled.Id).ToListAsync();
            Assert.Equal(2_500, byStatus.Count(d => d.Status == WebhookDeliveryStatus.Skipped
                && d.LastError == DisabledSubscriptions.Reason && d.NextAttemptAt is null && d.LockedUntil is null));
            Assert.Equal(10_000, byStatus.Count(d => d.Status == WebhookDeliveryStatus.Delivered));
            // An enabled subscription's are its own to send; a deleted one's are purged, not skipped.
            Assert.Equal(10, await db.WebhookDeliveries.CountAsync(d => d.SubscriptionId != disabled.Id && d.Status == WebhookDeliveryStatus.Pending));
        }

        // Each statement goes straight to the subscription's pending deliveries, oldest first, rather than through all its
        // delivered ones before them.
        var skips = plans.AllOf("UPDATE");
        Assert.Equal(3, skips.Count);
        Assert.All(skips, plan => Assert.True(plan.Contains("ix_webhook_deliveries_subscription_id_status_created_at_id", StringComparison.Ordinal), plan));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task TheSweepLeavesTheNewDeliveriesOfASubscriptionReEnabledAfterItListedTheDisabledOnes(bool postgres)
    {
        await using var store = postgres ? await StatusStore.PostgresAsync() : await StatusStore.SqliteAsync();
        var now = DateTime.UtcNow;
        var subscription = new WebhookSubscriptionRecord
        {
            Id = Guid.CreateVersion7(), Url = "https://93.184.215.14/hooks", Secret = "whsec_x", CreatedAt = now, UpdatedAt = now,
            Enabled = false, DisabledAt = now, DisabledReason = "Disabled through the API.",
        };
        var old = Assert.Single(History(subscription.Id, 1, from: now.AddMinutes(-5)));
        await using (var db = store.NewContext())
        {
            if (!postgres)
            {
                // As the service's own SQLite store (StoreExtensions): the sweep's listing, still being read, does not
                // hold off the writer that commits in the middle of it.
                await db.Database.ExecuteSqlRawAsync("PRAGMA journal_mode=WAL;");
            }

            db.WebhookSubscriptions.Add(subscription);
            db.WebhookDeliveries.Add(old);
            await db.SaveChangesAsync();
        }

        // Right after the sweep has listed the disabled subscriptions: the operator's re-enable marks the old delivery
        // itself (its one batch finishes the skip, so it is allowed), and the subscription's next event queues a delivery.
        var fresh = Assert.Single(History(subscription.Id, 1, from: now));
        var options = Options.Create(new WebhookOptions());
        var between = new AfterFirstQuery(async () =>
        {
            await using var other = store.NewContext();
            var enabled = await WebhooksEndpoints.UpdateAsync(subscription.Id.ToString(), new UpdateWebhookRequest(null, null, Enabled: true),
                new DefaultHttpContext(), other, options, TimeProvider.System,
                NullLogger<WebhookResponse>.Instance, CancellationToken.None);
            Assert.IsType<Ok<WebhookResponse>>(enabled.Result);
            other.WebhookDeliveries.Add(fresh);
            await other.SaveChangesAsync();
        });
        await using (var db = store.NewContext(between))
        {
            Assert.Equal(0, await DisabledSubscriptions.SkipAllPendingAsync(db, batchSize: 1_000, maxBatches: 20, CancellationToken.None));
            Assert.True(between.Ran, "nothing was committed between the listing and the skip");
        }

        await using (var db = store.NewContext())
        {
            var statuses = await db.WebhookDeliveries.AsNoTracking().Where(d => d.SubscriptionId == subscription.Id).ToDictionaryAsync(d => d.Id, d => d.Status);
            Assert.Equal((WebhookDeliveryStatus.Skipped, WebhookDeliveryStatus.Pending), (statuses[old.Id], statuses[fresh.Id]));
            Assert.True((await db.WebhookSubscriptions.AsNoTracking().SingleAsync(s => s.Id == subscription.Id)).Enabled);
        }
    }

    [Fact]
    public async Task DisablingAnswers200EvenWhenSkippingItsPendingDeliveriesFailsAndNoneIsSentAfterwards()
    {
        await using var disabled = await WebhookReceiver.StartAsync();
        await using var kept = await WebhookReceiver.StartAsync();
        disabled.FailAll = true;
        var skipping = new FailingStatements("UPDATE webhook_deliveries", "locked_until = NULL");
        var settings = FastRetries(retries: 0);
        settings["Webhooks:RetrySchedule:0"] = "01:00:00";
        await using var api = await StatusApi.StartAsync(settings, s => s.ConfigureDbContext<PostgresStatusDbContext>(o => o.AddInterceptors(skipping)));
        using var client = api.CreateClient();
        var (disabledId, _) = await SubscribeAsync(client, disabled.Url, "email.delivered");
        var (keptId, _) = await SubscribeAsync(client, kept.Url, "email.delivered");
        var first = Guid.NewGuid();
        await api.RecordAsync(TestEvents.Accepted(first, to: [Alice]), TestEvents.Delivered(first, Alice));
        await Eventually.GetAsync(() => DeliveriesAsync(client, disabledId),
            l => l.GetProperty("data")[0].GetProperty("attempts").GetInt32() == 1, TimeSpan.FromSeconds(20), "the failed attempt recorded");

        // The skip statement fails, as one over millions of rows outlives its timeout; the disable was committed before it.
        skipping.Armed = true;
        using (var patch = await client.PatchAsJsonAsync(new Uri($"/v1/webhooks/{disabledId}", UriKind.Relative), new { enabled = false }))
        {
            var body = await patch.Content.ReadAsStringAsync();
            Assert.True(patch.StatusCode == HttpStatusCode.OK, body);
            using var json = JsonDocument.Parse(body);
            Assert.False(json.RootElement.GetProperty("enabled").GetBoolean());
        }

        Assert.True(skipping.Failed >= 1, "the skip was not attempted");
        var fetched = await GetJsonAsync(client, $"/v1/webhooks/{disabledId}");
        Assert.False(fetched.GetProperty("enabled").GetBoolean());
        Assert.Equal("webhook.disabled", Assert.Single(fetched.GetProperty("history").EnumerateArray()).GetProperty("action").GetString());
        var pending = Assert.Single((await DeliveriesAsync(client, disabledId)).GetProperty("data").EnumerateArray());
        Assert.Equal("pending", pending.GetProperty("status").GetString());

        // The housekeeping's sweep fails the same way, and is only logged: thrown, it would cost the dispatcher the round
        // of sends after it, every time.
        var failed = skipping.Failed;
        await api.Services.GetRequiredService<WebhookDispatcher>().HousekeepAsync(CancellationToken.None);
        Assert.True(skipping.Failed > failed, "the sweep did not try to skip");

        // Due again and its receiver answering now: still not sent, while a new event goes out to the other subscription
        // in a later round (the claim takes the oldest due first, so the skipped-to-be one would have gone before it).
        disabled.FailAll = false;
        await api.WithStoreAsync(db => db.WebhookDeliveries.Where(d => d.SubscriptionId == disabledId)
            .ExecuteUpdateAsync(s => s.SetProperty(d => d.NextAttemptAt, DateTime.UtcNow.AddMinutes(-1))));
        var second = Guid.NewGuid();
        await api.RecordAsync(TestEvents.Accepted(second, to: [Alice]), TestEvents.Delivered(second, Alice));
        await Eventually.GetAsync(() => DeliveriesAsync(client, keptId),
            l => l.GetProperty("data").EnumerateArray().Count(d => d.GetProperty("status").GetString() == "delivered") == 2,
            TimeSpan.FromSeconds(20), "the other subscription's new delivery recorded as delivered");
        Assert.Single(disabled.Requests);

        // The housekeeping's sweep marks it once the store takes the statement again.
        skipping.Armed = false;
        await api.Services.GetRequiredService<WebhookDispatcher>().HousekeepAsync(CancellationToken.None);
        var skipped = Assert.Single((await DeliveriesAsync(client, disabledId)).GetProperty("data").EnumerateArray());
        Assert.Equal("skipped", skipped.GetProperty("status").GetString());
        Assert.Single(disabled.Requests);
    }

    [Fact]
    public async Task ReEnablingWhileTheSkipIsStillUnderWayIsAConflictUntilTheSweepHasFinishedIt()
    {
        await using var api = await StatusApi.StartAsync(FastRetries());
        using var client = api.CreateClient();
        // The test runs the housekeeping itself.
        var dispatcher = await StopDispatcherLoopsAsync(api);
        var (subscriptionId, _) = await SubscribeAsync(client, new Uri("http://127.0.0.1:9/hooks"), "email.delivered");
        await api.WithStoreAsync(db =>
        {
            db.WebhookDeliveries.AddRange(History(subscriptionId, 2_500));
            return db.SaveChangesAsync();
        });
        Task<int> PendingAsync() => api.WithStoreAsync(db => db.WebhookDeliveries.CountAsync(d => d.SubscriptionId == subscriptionId && d.Status == WebhookDeliveryStatus.Pending));

        // The disable marks the first 1,000 before it answers; the sweep does the rest.
        using (var disable = await client.PatchAsJsonAsync(new Uri($"/v1/webhooks/{subscriptionId}", UriKind.Relative), new { enabled = false }))
        {
            Assert.Equal(HttpStatusCode.OK, disable.StatusCode);
        }

        Assert.Equal(1_500, await PendingAsync());

        // Re-enabled now, the 500 still pending after one more batch would go out late: refused, nothing changed.
        using (var early = await client.PatchAsJsonAsync(new Uri($"/v1/webhooks/{subscriptionId}", UriKind.Relative), new { enabled = true }))
        {
            await ProblemAssert.IsDetailedProblemAsync(early, HttpStatusCode.Conflict, "skip_in_progress");
        }

        Assert.Equal(500, await PendingAsync());
        Assert.False((await GetJsonAsync(client, $"/v1/webhooks/{subscriptionId}")).GetProperty("enabled").GetBoolean());

        await dispatcher.HousekeepAsync(CancellationToken.None);
        Assert.Equal(0, await PendingAsync());
        using (var enable = await client.PatchAsJsonAsync(new Uri($"/v1/webhooks/{subscriptionId}", UriKind.Relative), new { enabled = true }))
        {
            Assert.Equal(HttpStatusCode.OK, enable.StatusCode);
        }

        Assert.True((await GetJsonAsync(client, $"/v1/webhooks/{subscriptionId}")).GetProperty("enabled").GetBoolean());
    }
}
