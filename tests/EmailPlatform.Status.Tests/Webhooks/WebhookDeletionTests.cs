using System.Net;
using System.Net.Http.Json;
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
/// Deleting a subscription with a long history: the API forgets it at once, nothing more is queued or sent for it, and
/// its deliveries (millions, for a busy one kept 90 days) are purged in the background a batch at a time, the row last.
/// </summary>
public sealed class WebhookDeletionTests
{
    private const string Alice = "alice@example.com";

    [Fact]
    public async Task DeletedSubscriptionIsGoneAtOnceNothingMoreIsSentForItAndItsDeliveriesArePurgedInTheBackground()
    {
        await using var deleted = await WebhookReceiver.StartAsync();
        await using var kept = await WebhookReceiver.StartAsync();
        deleted.FailAll = true;
        var statements = new StatementLog();
        var settings = FastRetries(retries: 0);
        settings["Webhooks:RetrySchedule:0"] = "01:00:00";
        await using var api = await StatusApi.StartAsync(settings, s => s.ConfigureDbContext<PostgresStatusDbContext>(o => o.AddInterceptors(statements)));
        using var client = api.CreateClient();
        // The test runs the dispatcher's rounds and housekeeping itself, one at a time.
        var dispatcher = await StopDispatcherLoopsAsync(api);
        var (deletedId, _) = await SubscribeAsync(client, deleted.Url, "email.delivered");
        var (keptId, _) = await SubscribeAsync(client, kept.Url, "email.delivered");

        // One event sent to both: the deleted-to-be receiver fails it, and its retry is an hour away. Then 2,500 more
        // deliveries of its past, each with an attempt.
        var first = Guid.NewGuid();
        await api.RecordAsync(TestEvents.Accepted(first, to: [Alice]), TestEvents.Delivered(first, Alice));
        Assert.Equal(2, await dispatcher.DispatchOnceAsync(CancellationToken.None));
        await api.WithStoreAsync(db =>
        {
            db.WebhookDeliveries.AddRange(History(deletedId, 2_500));
            return db.SaveChangesAsync();
        });
        statements.Clear();

        using (var delete = await client.DeleteAsync(new Uri($"/v1/webhooks/{deletedId}", UriKind.Relative)))
        {
            Assert.Equal(HttpStatusCode.NoContent, delete.StatusCode);
        }

        // Gone for the API at once …
        foreach (var path in new[] { $"/v1/webhooks/{deletedId}", $"/v1/webhooks/{deletedId}/deliveries" })
        {
            using var gone = await client.GetAsync(new Uri(path, UriKind.Relative));
            await ProblemAssert.IsProblemAsync(gone, HttpStatusCode.NotFound, "not_found");
        }

        using (var patch = await client.PatchAsJsonAsync(new Uri($"/v1/webhooks/{deletedId}", UriKind.Relative), new { enabled = true }))
        {
            await ProblemAssert.IsProblemAsync(patch, HttpStatusCode.NotFound, "not_found");
        }

        using (var again = await client.DeleteAsync(new Uri($"/v1/webhooks/{deletedId}", UriKind.Relative)))
        {
            await ProblemAssert.IsProblemAsync(again, HttpStatusCode.NotFound, "not_found");
        }

        Assert.Equal([keptId], (await GetJsonAsync(client, "/v1/webhooks")).GetProperty("data").EnumerateArray().Select(w => w.GetProperty("id").GetGuid()));

        // … but the request deleted none of its 2,501 deliveries: that is the background's work.
        Assert.Empty(statements.RowsOf("DELETE FROM webhook_deliveries"));
        Assert.Equal(2_501, await api.WithStoreAsync(db => db.WebhookDeliveries.CountAsync(d => d.SubscriptionId == deletedId)));

        // Nothing more is sent for it, not even its deliveries that fall due, and a new event makes none for it.
        deleted.FailAll = false;
        await api.WithStoreAsync(db => db.WebhookDeliveries.Where(d => d.SubscriptionId == deletedId && d.Status == WebhookDeliveryStatus.Pending)
            .ExecuteUpdateAsync(s => s.SetProperty(d => d.NextAttemptAt, DateTime.UtcNow.AddMinutes(-1))));
        var second = Guid.NewGuid();
        await api.RecordAsync(TestEvents.Accepted(second, to: [Alice]), TestEvents.Delivered(second, Alice));
        Assert.Equal(1, await dispatcher.DispatchOnceAsync(CancellationToken.None));
        Assert.Equal(2, kept.Succeeded.Count);
        Assert.Single(deleted.Requests);
        Assert.Equal(2_501, await api.WithStoreAsync(db => db.WebhookDeliveries.CountAsync(d => d.SubscriptionId == deletedId)));

        // The housekeeping purges them, at most 1,000 a statement; the other subscription's stay.
        await dispatcher.HousekeepAsync(CancellationToken.None);
        var purges = statements.RowsOf("DELETE FROM webhook_deliveries");
        Assert.True(purges.Count >= 3 && purges.All(rows => rows <= 1_000), string.Join(", ", purges));
        Assert.Equal(2_501, purges.Sum());
        Assert.Equal(0, await api.WithStoreAsync(db => db.WebhookDeliveries.CountAsync(d => d.SubscriptionId == deletedId)));
        Assert.Equal(2, await api.WithStoreAsync(db => db.WebhookDeliveries.CountAsync(d => d.SubscriptionId == keptId)));
        Assert.Equal(2, await api.WithStoreAsync(db => db.WebhookAttempts.CountAsync()));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task DeletedSubscriptionsDeliveriesArePurgedAThousandAStatementABoundedNumberAPassAndItsRowLast(bool postgres)
    {
        await using var store = postgres ? await StatusStore.PostgresAsync() : await StatusStore.SqliteAsync();
        var now = DateTime.UtcNow;
        var (deletedId, keptId) = await TwoSubscriptionsAsync(store, now, deletedAt: now.AddMinutes(-5));
        var statements = new StatementLog();
        var removeBefore = now - TimeSpan.FromMinutes(10);

        // A pass of two statements leaves the rest to the next one.
        await using (var db = store.NewContext(statements))
        {
            var first = await DeletedSubscriptions.PurgeAsync(db, removeBefore, batchSize: 1_000, maxBatches: 2, CancellationToken.None);
            Assert.Equal((2_000, 0), (first.Deliveries, first.Removed.Count));
            Assert.Equal([1_000, 1_000], statements.RowsOf("DELETE FROM webhook_deliveries"));
            Assert.Equal(500, await db.WebhookDeliveries.CountAsync(d => d.SubscriptionId == deletedId));

            // The last 500 go, but not the row: it was deleted five minutes ago, and until ten have passed (the margin
            // given here) a recording batch that read it before the delete may still add a delivery for it.
            var second = await DeletedSubscriptions.PurgeAsync(db, removeBefore, batchSize: 1_000, maxBatches: 2, CancellationToken.None);
            Assert.Equal((500, 0), (second.Deliveries, second.Removed.Count));
            Assert.Equal(0, await db.WebhookDeliveries.CountAsync(d => d.SubscriptionId == deletedId));
            Assert.True(await db.WebhookSubscriptions.AnyAsync(s => s.Id == deletedId));

            var third = await DeletedSubscriptions.PurgeAsync(db, now, batchSize: 1_000, maxBatches: 2, CancellationToken.None);
            Assert.Equal([deletedId], third.Removed);
        }

        Assert.Equal([1_000, 1_000, 500, 0], statements.RowsOf("DELETE FROM webhook_deliveries"));
        await using (var db = store.NewContext())
        {
            Assert.Equal([keptId], await db.WebhookSubscriptions.Select(s => s.Id).ToListAsync());
            Assert.Equal(10, await db.WebhookDeliveries.CountAsync());
            Assert.Equal(10, await db.WebhookAttempts.CountAsync());
        }
    }

    [Fact]
    public async Task TwoReplicasPurgingAtOnceShareTheDeliveriesWithoutWaitingOnEachOther()
    {
        await using var store = await StatusStore.PostgresAsync();
        var now = DateTime.UtcNow;
        var (deletedId, _) = await TwoSubscriptionsAsync(store, now, deletedAt: now.AddHours(-1));

        // Each replica's statements take only rows the other does not hold, so between them each delivery is deleted once.
        await using var one = store.NewContext();
        await using var other = store.NewContext();
        var purges = await Task.WhenAll(
            DeletedSubscriptions.PurgeAsync(one, now, batchSize: 100, maxBatches: 100, CancellationToken.None),
            DeletedSubscriptions.PurgeAsync(other, now, batchSize: 100, maxBatches: 100, CancellationToken.None));

        Assert.Equal(2_500, purges.Sum(p => p.Deliveries));
        Assert.Equal(0, await one.WebhookDeliveries.CountAsync(d => d.SubscriptionId == deletedId));
        var last = await DeletedSubscriptions.PurgeAsync(one, now, batchSize: 100, maxBatches: 100, CancellationToken.None);
        Assert.Equal([deletedId], [.. purges.SelectMany(p => p.Removed), .. last.Removed]);
        Assert.False(await one.WebhookSubscriptions.AnyAsync(s => s.Id == deletedId));
    }

    [Fact]
    public async Task ReEnableRacingTheDeleteDoesNotBringTheSubscriptionBack()
    {
        await using var store = await StatusStore.PostgresAsync();
        var now = DateTime.UtcNow;
        var subscription = new WebhookSubscriptionRecord
        {
            Id = Guid.CreateVersion7(), Url = "https://93.184.215.14/hooks", Secret = "whsec_x", CreatedAt = now, UpdatedAt = now,
            Enabled = false, DisabledAt = now, DisabledReason = "Disabled through the API.",
        };
        await using (var db = store.NewContext())
        {
            db.WebhookSubscriptions.Add(subscription);
            await db.SaveChangesAsync();
        }

        // The delete commits after the PATCH has read the subscription and before it saves the re-enable.
        var between = new AfterFirstQuery(async () =>
        {
            await using var other = store.NewContext();
            Assert.IsType<NoContent>((await WebhooksEndpoints.DeleteAsync(subscription.Id.ToString(), other, TimeProvider.System, NullLogger<WebhookResponse>.Instance, CancellationToken.None)).Result);
        });
        await using (var db = store.NewContext(between))
        {
            var result = await WebhooksEndpoints.UpdateAsync(subscription.Id.ToString(), new UpdateWebhookRequest(null, null, Enabled: true),
                new DefaultHttpContext(), db, Options.Create(new WebhookOptions()), TimeProvider.System, NullLogger<WebhookResponse>.Instance,
                CancellationToken.None);
            Assert.True(between.Ran, "nothing was committed between the read and the save");
            Assert.Equal(StatusCodes.Status404NotFound, Assert.IsType<ProblemHttpResult>(result.Result).StatusCode);
        }

        // Still deleted, and disabled: the dispatcher sends nothing to it while its deliveries are purged.
        await using (var db = store.NewContext())
        {
            var stored = await db.WebhookSubscriptions.AsNoTracking().SingleAsync(s => s.Id == subscription.Id);
            Assert.Equal((false, true), (stored.Enabled, stored.DeletedAt is not null));
        }
    }

    /// <summary>A subscription deleted at <paramref name="deletedAt"/> with 2,500 deliveries, and one kept with 10.</summary>
    private static async Task<(Guid Deleted, Guid Kept)> TwoSubscriptionsAsync(StatusStore store, DateTime now, DateTime deletedAt)
    {
        var deleted = new WebhookSubscriptionRecord
        {
            Id = Guid.CreateVersion7(), Url = "https://93.184.215.14/hooks", Secret = "whsec_x", CreatedAt = now, UpdatedAt = now,
            Enabled = false, DeletedAt = deletedAt,
        };
        var kept = new WebhookSubscriptionRecord { Id = Guid.CreateVersion7(), Url = "https://93.184.215.14/kept", Secret = "whsec_y", CreatedAt = now, UpdatedAt = now };
        await using var db = store.NewContext();
        db.WebhookSubscriptions.AddRange(deleted, kept);
        db.WebhookDeliveries.AddRange(History(deleted.Id, 2_000, WebhookDeliveryStatus.Delivered));
        db.WebhookDeliveries.AddRange(History(deleted.Id, 500));
        db.WebhookDeliveries.AddRange(History(kept.Id, 10));
        await db.SaveChangesAsync();
        return (deleted.Id, kept.Id);
    }
}
