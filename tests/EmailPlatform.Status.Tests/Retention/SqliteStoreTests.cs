using EmailPlatform.Status.Retention;
using EmailPlatform.Status.Tests.Support;
using EmailPlatform.Status.Webhooks;
using EmailPlatform.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace EmailPlatform.Status.Tests.Retention;

/// <summary>The provider-specific paths of the standalone host's SQLite store: webhook claims and the purge.</summary>
public sealed class SqliteStoreTests
{
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task DueDeliveryIsClaimedOnceUntilItsLeaseExpires(bool sqlite)
    {
        await using var store = sqlite ? await StatusStore.SqliteAsync() : await StatusStore.PostgresAsync();
        var now = DateTime.UtcNow;
        var subscriptionId = Guid.NewGuid();
        var deliveryId = Guid.NewGuid();
        await using (var db = store.NewContext())
        {
            db.WebhookSubscriptions.Add(new WebhookSubscriptionRecord
            {
                Id = subscriptionId, Url = "https://example.com/hooks", Events = ["email.delivered"], Secret = WebhookSignature.NewSecret(),
                CreatedAt = now, UpdatedAt = now,
            });
            db.WebhookDeliveries.Add(new WebhookDeliveryRecord
            {
                Id = deliveryId, SubscriptionId = subscriptionId, MessageId = "msg_1", EventType = "email.delivered", Payload = "{}",
                CreatedAt = now, NextAttemptAt = now.AddSeconds(-1),
            });
            await db.SaveChangesAsync();
        }

        await using (var db = store.NewContext())
        {
            Assert.Equal([deliveryId], await WebhookClaims.ClaimAsync(db, now, now.AddMinutes(1), 10, 4, new Dictionary<Guid, int>(), CancellationToken.None));
            Assert.Empty(await WebhookClaims.ClaimAsync(db, now.AddSeconds(30), now.AddMinutes(2), 10, 4, new Dictionary<Guid, int>(), CancellationToken.None));
            Assert.Equal([deliveryId], await WebhookClaims.ClaimAsync(db, now.AddMinutes(3), now.AddMinutes(4), 10, 4, new Dictionary<Guid, int>(), CancellationToken.None));
        }
    }

    [Fact]
    public async Task PurgeRemovesOldBodiesAndEventsInSqlite()
    {
        await using var store = await StatusStore.SqliteAsync();
        var emailId = Guid.NewGuid();
        await store.RecordAsync(TestEvents.Accepted(emailId, to: ["alice@example.com"]));
        await store.RecordAsync(TestEvents.Delivered(emailId, "alice@example.com"));

        await using (var db = store.NewContext())
        {
            var purger = new RetentionPurger(db, Options.Create(new RetentionOptions { BatchSize = 1 }), new ManualClock(DateTimeOffset.UtcNow.AddDays(100)));
            var result = await purger.PurgeAsync(CancellationToken.None);
            Assert.Equal((1, 2), (result.Bodies, result.Events));
        }

        var email = await store.EmailAsync(emailId);
        Assert.Null(email.Html);
        Assert.Empty(email.AttachmentNames);
        Assert.Empty(await store.EventsAsync(emailId));
    }
}
