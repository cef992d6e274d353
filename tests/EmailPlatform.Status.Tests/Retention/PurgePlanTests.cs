using EmailPlatform.Status.Retention;
using EmailPlatform.Status.Tests.Support;
using EmailPlatform.Testing;
using Microsoft.Extensions.Options;

namespace EmailPlatform.Status.Tests.Retention;

/// <summary>
/// The retention purge runs every hour over tables that grow for ever (emails are kept after their bodies go), so its
/// selections must come from indexes that hold only what is left to purge, oldest first: not a scan of every email or
/// webhook delivery ever purged. Each selection the purger runs is explained by the store itself.
/// </summary>
public sealed class PurgePlanTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task PurgeSelectsFromIndexesThatHoldOnlyWhatIsLeftToPurge(bool sqlite)
    {
        await using var store = sqlite ? await StatusStore.SqliteAsync() : await StatusStore.PostgresAsync();
        await store.RecordAsync(TestEvents.Accepted(Guid.NewGuid(), to: ["alice@example.com"]));
        await store.RecordAsync(TestEvents.Accepted(Guid.NewGuid(), to: ["alice@example.com"], scheduledAt: DateTimeOffset.UtcNow.AddDays(2)));

        var plans = new PlanRecorder();
        await using (var db = store.NewContext(plans))
        {
            var purger = new RetentionPurger(db, Options.Create(new RetentionOptions()), new ManualClock(DateTimeOffset.UtcNow.AddDays(100)));
            var result = await purger.PurgeAsync(CancellationToken.None);
            Assert.Equal((2, 2), (result.Bodies, result.Events));
        }

        // Emails sent at once by acceptance, scheduled ones by when they are due: each from a partial index of its own.
        Assert.Contains("ix_emails_with_content_accepted_at_id", plans.Of("scheduled_at IS NULL"));
        Assert.Contains("ix_emails_scheduled_with_content", plans.Of("scheduled_at IS NOT NULL"));
        Assert.Contains("ix_events_occurred_at", plans.Of("occurred_at"));
        Assert.Contains("ix_webhook_deliveries_created_at", plans.Of("webhook_deliveries"));
    }
}
