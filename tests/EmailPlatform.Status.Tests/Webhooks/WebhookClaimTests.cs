using EmailPlatform.Status.Tests.Support;
using EmailPlatform.Status.Webhooks;
using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace EmailPlatform.Status.Tests.Webhooks;

/// <summary>
/// The dispatcher's claim takes turns between subscriptions and gives each at most its room, on PostgreSQL and on the
/// standalone host's SQLite alike.
/// </summary>
public sealed class WebhookClaimTests
{
    private static readonly Dictionary<Guid, int> NothingInFlight = [];

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task ClaimTakesEverySubscriptionsOldestDeliveryBeforeAnyonesNextAndNoMoreThanItsRoom(bool postgres)
    {
        await using var store = postgres ? await StatusStore.PostgresAsync() : await StatusStore.SqliteAsync();
        var now = DateTime.UtcNow;
        var backlog = Seed.Subscription();
        var quiet = Seed.Subscription();
        var disabled = Seed.Subscription(enabled: false);
        var a = Enumerable.Range(0, 4).Select(i => Seed.Delivery(backlog, now.AddMinutes(-10 + i))).ToList();
        var b = new[] { Seed.Delivery(quiet, now.AddMinutes(-1)), Seed.Delivery(quiet, now.AddSeconds(-30)) };
        // Leased by another dispatcher, not yet due, and a disabled subscription's: never claimed.
        var leased = Seed.Delivery(backlog, now.AddMinutes(-11), lockedUntil: now.AddMinutes(1));
        var later = Seed.Delivery(backlog, now.AddHours(1));
        var ofDisabled = Seed.Delivery(disabled, now.AddMinutes(-20));
        await using (var db = store.NewContext())
        {
            db.WebhookSubscriptions.AddRange(backlog, quiet, disabled);
            db.WebhookDeliveries.AddRange([.. a, .. b, leased, later, ofDisabled]);
            await db.SaveChangesAsync();
        }

        await using (var db = store.NewContext())
        {
            var lease = now.AddMinutes(1);

            // The first turn is the backlog's oldest and the quiet subscription's one; the second begins with the backlog's next.
            Assert.Equal(
                new[] { a[0].Id, a[1].Id, b[0].Id }.Order(),
                (await WebhookClaims.ClaimAsync(db, now, lease, 3, 2, NothingInFlight, CancellationToken.None)).Order());

            // Two of the backlog's in flight here already: it has no room left, and only the quiet subscription gets more.
            Assert.Equal([b[1].Id], await WebhookClaims.ClaimAsync(db, now, lease, 10, 2, new Dictionary<Guid, int> { [backlog.Id] = 2 }, CancellationToken.None));

            // One of them finished: room for one more, the oldest left.
            Assert.Equal([a[2].Id], await WebhookClaims.ClaimAsync(db, now, lease, 10, 2, new Dictionary<Guid, int> { [backlog.Id] = 1 }, CancellationToken.None));
            Assert.Equal([a[3].Id], await WebhookClaims.ClaimAsync(db, now, lease, 10, 2, new Dictionary<Guid, int> { [backlog.Id] = 1 }, CancellationToken.None));
            Assert.Empty(await WebhookClaims.ClaimAsync(db, now, lease, 10, 2, NothingInFlight, CancellationToken.None));
        }
    }

    [Fact]
    public async Task ClaimSkipsADeliveryAnotherReplicaHasLockedWithoutWaitingOrExceedingTheRoom()
    {
        await using var store = await StatusStore.PostgresAsync();
        var now = DateTime.UtcNow;
        var subscription = Seed.Subscription();
        var due = Enumerable.Range(0, 4).Select(i => Seed.Delivery(subscription, now.AddMinutes(-10 + i))).ToList();
        await using (var db = store.NewContext())
        {
            db.WebhookSubscriptions.Add(subscription);
            db.WebhookDeliveries.AddRange(due);
            await db.SaveChangesAsync();
        }

        // Another replica is claiming the oldest: its row is locked until that replica commits.
        await using var other = new NpgsqlConnection(store.PostgresConnectionString);
        await other.OpenAsync();
        await using var transaction = await other.BeginTransactionAsync();
        await using (var lockIt = new NpgsqlCommand("SELECT id FROM webhook_deliveries WHERE id = @id FOR UPDATE", other, transaction))
        {
            lockIt.Parameters.AddWithValue("id", due[0].Id);
            await lockIt.ExecuteScalarAsync();
        }

        await using var db2 = store.NewContext();
        var claimed = await WebhookClaims.ClaimAsync(db2, now, now.AddMinutes(1), 10, 2, NothingInFlight, CancellationToken.None)
            .WaitAsync(TimeSpan.FromSeconds(10));

        Assert.DoesNotContain(due[0].Id, claimed);
        Assert.InRange(claimed.Count, 1, 2);
        Assert.Subset(due.Skip(1).Select(d => d.Id).ToHashSet(), claimed.ToHashSet());
    }

    /// <summary>
    /// The claim probes each enabled subscription through its own index, so that a subscription with a backlog of a
    /// million due deliveries costs it a few index entries, not a read of the backlog.
    /// </summary>
    [Fact]
    public async Task ClaimReadsEachSubscriptionsOldestDueDeliveriesThroughTheClaimIndex()
    {
        await using var store = await StatusStore.PostgresAsync();
        var now = DateTime.UtcNow;
        var backlog = Seed.Subscription();
        var quiet = Seed.Subscription();
        await using (var db = store.NewContext())
        {
            db.WebhookSubscriptions.AddRange(backlog, quiet);
            db.WebhookDeliveries.AddRange(Enumerable.Range(0, 2000).Select(i => Seed.Delivery(backlog, now.AddSeconds(-3000 + i))));
            db.WebhookDeliveries.Add(Seed.Delivery(quiet, now.AddMinutes(-1)));
            await db.SaveChangesAsync();
            await db.Database.ExecuteSqlRawAsync("ANALYZE webhook_deliveries");
        }

        var plans = new PlanRecorder(writes: true);
        await using (var db = store.NewContext(plans))
        {
            var claimed = await WebhookClaims.ClaimAsync(db, now, now.AddMinutes(1), 10, 2, NothingInFlight, CancellationToken.None);
            Assert.Equal(3, claimed.Count);
        }

        var plan = plans.Of("locked_until");
        Assert.True(plan.Contains("ix_webhook_deliveries_subscription_id_next_attempt_at", StringComparison.Ordinal), plan);
    }

    private static class Seed
    {
        public static WebhookSubscriptionRecord Subscription(bool enabled = true) => new()
        {
            Id = Guid.CreateVersion7(), Url = "https://93.184.215.14/hooks", Events = ["email.delivered"], Secret = WebhookSignature.NewSecret(),
            Enabled = enabled, CreatedAt = DateTime.UtcNow, UpdatedAt = DateTime.UtcNow,
        };

        public static WebhookDeliveryRecord Delivery(WebhookSubscriptionRecord subscription, DateTime due, DateTime? lockedUntil = null)
        {
            var id = Guid.CreateVersion7();
            return new WebhookDeliveryRecord
            {
                Id = id, SubscriptionId = subscription.Id, MessageId = $"msg_{id:N}", EventType = "email.delivered", Payload = "{}",
                CreatedAt = due, NextAttemptAt = due, LockedUntil = lockedUntil,
            };
        }
    }
}
