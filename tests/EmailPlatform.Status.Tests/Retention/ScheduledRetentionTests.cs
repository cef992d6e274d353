using EmailPlatform.Status.Retention;
using EmailPlatform.Status.Tests.Support;
using EmailPlatform.Testing;
using Microsoft.Extensions.Options;

namespace EmailPlatform.Status.Tests.Retention;

/// <summary>
/// Retention counts from when an email is due (its <c>scheduled_at</c>, or its acceptance when it was not scheduled):
/// an email scheduled months ahead keeps its bodies and timeline until it has been sent, on both providers.
/// </summary>
public sealed class ScheduledRetentionTests
{
    private const string Alice = "alice@example.com";

    /// <param name="batch">1: every purge goes on from where its previous batch stopped, past what it keeps.</param>
    [Theory]
    [InlineData(true, 1000)]
    [InlineData(false, 1000)]
    [InlineData(true, 1)]
    [InlineData(false, 1)]
    public async Task EmailScheduledFarAheadKeepsItsBodiesAndTimelineUntilTheirRetentionHasRunFromWhenItIsDue(bool postgres, int batch)
    {
        await using var store = postgres ? await StatusStore.PostgresAsync() : await StatusStore.SqliteAsync();
        var now = DateTimeOffset.UtcNow;
        var (sentNow, scheduled) = (Guid.NewGuid(), Guid.NewGuid());
        await store.RecordAsync(TestEvents.Accepted(sentNow, to: [Alice]));
        await store.RecordAsync(TestEvents.Accepted(scheduled, to: [Alice], scheduledAt: now.AddDays(200)));
        await store.RecordAsync(TestEvents.Delivered(sentNow, Alice)); // after the scheduled one's first event

        // 100 days on, the email sent at once has lost its bodies (after 30 days) and its timeline (after 90); the
        // scheduled one has not even been sent.
        await PurgeAtAsync(store, batch, now.AddDays(100));
        Assert.Null((await store.EmailAsync(sentNow)).Html);
        Assert.Empty(await store.EventsAsync(sentNow));
        var waiting = await store.EmailAsync(scheduled);
        Assert.Equal(("<p>Thanks for your order.</p>", "Thanks for your order.", 1), (waiting.Html, waiting.Text, waiting.AttachmentNames.Count));
        Assert.Single(await store.EventsAsync(scheduled));

        // Sent when due, 31 days ago: its bodies go, its timeline stays until 90 days after it was due.
        await store.RecordAsync(TestEvents.Delivered(scheduled, Alice) with { Timestamp = now.AddDays(200) });
        await PurgeAtAsync(store, batch, now.AddDays(231));
        Assert.Null((await store.EmailAsync(scheduled)).Html);
        Assert.Equal(2, (await store.EventsAsync(scheduled)).Count);

        await PurgeAtAsync(store, batch, now.AddDays(291));
        Assert.Empty(await store.EventsAsync(scheduled));
    }

    private static async Task PurgeAtAsync(StatusStore store, int batch, DateTimeOffset now)
    {
        await using var db = store.NewContext();
        await new RetentionPurger(db, Options.Create(new RetentionOptions { BatchSize = batch }), new ManualClock(now)).PurgeAsync(CancellationToken.None);
    }
}
