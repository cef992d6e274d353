using EmailPlatform.Status.Tests.Support;
using EmailPlatform.Status.Webhooks;
using Microsoft.AspNetCore.Http.HttpResults;

namespace EmailPlatform.Status.Tests.Webhooks;

/// <summary>
/// A subscription's history is read from the audit records, which also hold every erasure and bulk operation: from a
/// partial index of the webhook records, not a scan of them all.
/// </summary>
public sealed class WebhookHistoryTests
{
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task HistoryIsReadFromAnIndexOfTheWebhookRecordsNewestFirst(bool postgres)
    {
        await using var store = postgres ? await StatusStore.PostgresAsync() : await StatusStore.SqliteAsync();
        var now = DateTime.UtcNow;
        var subscription = new WebhookSubscriptionRecord { Id = Guid.CreateVersion7(), Url = "https://93.184.215.14/hooks", Secret = "whsec_x", CreatedAt = now, UpdatedAt = now };
        await using (var db = store.NewContext())
        {
            db.WebhookSubscriptions.Add(subscription);
            db.AuditRecords.AddRange(
                WebhookHistory.Record(subscription.Id, WebhookHistory.Disabled, null, now.AddMinutes(-2), "Every attempt failed."),
                WebhookHistory.Record(subscription.Id, WebhookHistory.Enabled, "key_1", now.AddMinutes(-1), null),
                WebhookHistory.Record(Guid.NewGuid(), WebhookHistory.Disabled, null, now, "Another subscription."));
            await db.SaveChangesAsync();
        }

        var plans = new PlanRecorder();
        await using (var db = store.NewContext(plans))
        {
            var result = await WebhooksEndpoints.GetAsync(subscription.Id.ToString(), db, CancellationToken.None);
            var history = Assert.IsType<Ok<WebhookResponse>>(result.Result).Value!.History!;
            (string, string?, string?)[] expected = [(WebhookHistory.Enabled, "key_1", null), (WebhookHistory.Disabled, null, "Every attempt failed.")];
            Assert.Equal(expected, history.Select(h => (h.Action, h.Actor, h.Reason)));
        }

        Assert.Contains("ix_audit_records_webhook_subject_occurred_at", plans.Of("audit_records"));
    }
}
