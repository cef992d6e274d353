using EmailPlatform.Status.Tests.Support;
using EmailPlatform.Status.Webhooks;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;

namespace EmailPlatform.Status.Tests.Webhooks;

/// <summary>
/// A subscription's delivery log is read newest first, filtered by status or not. On a busy subscription almost every
/// delivery is <c>delivered</c>: <c>?status=failed</c> must go straight to the few failed ones through an index that has
/// the status before the time, not walk every delivery of the subscription and keep the failed ones.
/// </summary>
public sealed class DeliveryLogPlanTests
{
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task StatusFilterIsReadFromAnIndexOfTheSubscriptionsDeliveriesByStatusNewestFirst(bool postgres)
    {
        await using var store = postgres ? await StatusStore.PostgresAsync() : await StatusStore.SqliteAsync();
        var now = DateTime.UtcNow;
        var subscription = new WebhookSubscriptionRecord { Id = Guid.CreateVersion7(), Url = "https://93.184.215.14/hooks", Secret = "whsec_x", CreatedAt = now, UpdatedAt = now };
        var delivered = WebhookTesting.History(subscription.Id, 2_000, WebhookDeliveryStatus.Delivered);
        var failed = WebhookTesting.History(subscription.Id, 3, WebhookDeliveryStatus.Failed);
        await using (var db = store.NewContext())
        {
            db.WebhookSubscriptions.Add(subscription);
            db.WebhookDeliveries.AddRange([.. delivered, .. failed]);
            await db.SaveChangesAsync();
            if (postgres)
            {
                // The statistics that autovacuum keeps on a real store: without them the planner takes every subscription
                // for one with a single delivery, and any index on subscription_id for as good as another.
                await db.Database.ExecuteSqlRawAsync("ANALYZE webhook_deliveries");
            }
        }

        var plans = new PlanRecorder();
        await using (var db = store.NewContext(plans))
        {
            var result = await WebhookDeliveriesEndpoints.ListAsync(subscription.Id.ToString(), db, CancellationToken.None, status: "failed");
            var page = Assert.IsType<Ok<ListResponse<WebhookDeliveryResponse>>>(result.Result).Value!;
            Assert.Equal(failed.Select(d => d.Id).Reverse(), page.Data.Select(d => d.Id));
            Assert.All(page.Data, d => Assert.Single(d.Log));
        }

        var plan = plans.Of("webhook_attempts");
        Assert.True(plan.Contains("ix_webhook_deliveries_subscription_id_status_created_at_id", StringComparison.Ordinal), plan);
    }
}
