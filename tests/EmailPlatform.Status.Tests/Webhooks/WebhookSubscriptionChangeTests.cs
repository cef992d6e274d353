using System.Data.Common;
using System.Net.Http.Json;
using EmailPlatform.Status.Tests.Support;
using EmailPlatform.Status.Webhooks;
using EmailPlatform.Testing;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace EmailPlatform.Status.Tests.Webhooks;

/// <summary>When a change to the subscriptions reaches the recorder of every replica, on the real PostgreSQL.</summary>
public sealed class WebhookSubscriptionChangeTests
{
    /// <summary>
    /// Replica B records an event (and, before, kept the subscriptions it read for five seconds), then a subscription is
    /// created through replica A, then B records the next event: it is the new subscription's, as is every event recorded
    /// after the creation was answered. Before, B queued nothing for it until its copy of the list expired.
    /// </summary>
    [Fact]
    public async Task AnEventRecordedByAnotherReplicaRightAfterASubscriptionIsCreatedIsItsToo()
    {
        var settings = new Dictionary<string, string> { ["Webhooks:AllowPrivateTargets"] = "true" };
        await using var database = await TemporaryDatabase.CreateAsync();
        await using var a = await StatusApi.StartAsync(settings, database: database);
        await using var b = await StatusApi.StartAsync(settings, database: database);
        using var client = a.CreateClient();
        var (before, after) = (Guid.NewGuid(), Guid.NewGuid());
        await b.RecordAsync(TestEvents.Accepted(before, to: ["alice@example.com"]), TestEvents.Delivered(before, "alice@example.com"));

        using var created = await client.PostAsJsonAsync("/v1/webhooks", new { url = "http://127.0.0.1:9/hooks", events = new[] { "email.delivered" } });
        created.EnsureSuccessStatusCode();
        await b.RecordAsync(TestEvents.Accepted(after, to: ["alice@example.com"]), TestEvents.Delivered(after, "alice@example.com"));

        var queued = await b.WithStoreAsync(db => db.WebhookDeliveries.Select(d => d.EmailId).ToListAsync());
        Assert.Equal([after], queued);
    }

    /// <summary>
    /// A recorder batch has read the subscriptions (none yet) and not committed when a subscription is created: the
    /// creation answers only once that batch has committed, so no event is recorded after the answer without a
    /// delivery for it.
    /// </summary>
    [Fact]
    public async Task ACreationAnswersOnlyOnceTheBatchesThatReadTheSubscriptionsWithoutItHaveCommitted()
    {
        await using var store = await StatusStore.PostgresAsync();
        var hold = new HoldAfterSubscriptionsRead();
        var emailId = Guid.NewGuid();
        var recording = store.RecordAsync(TestEvents.Delivered(emailId, "alice@example.com"), hold);
        await hold.Read.WaitAsync(TimeSpan.FromSeconds(30));

        await using var db = store.NewContext();
        var creating = WebhooksEndpoints.CreateAsync(new CreateWebhookRequest("http://127.0.0.1:9/hooks", ["email.delivered"]), db,
            Options.Create(new WebhookOptions { AllowPrivateTargets = true }), TimeProvider.System, NullLogger<WebhookResponse>.Instance,
            CancellationToken.None);
        // Unless it waits, the creation answers well within this (a first save of this context included).
        var answered = await Task.WhenAny(creating, Task.Delay(TimeSpan.FromSeconds(5))) == creating;
        hold.Release();
        Assert.False(answered, "the creation answered while a batch that read the subscriptions without it had not committed");

        await recording.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.IsType<Created<WebhookResponse>>((await creating.WaitAsync(TimeSpan.FromSeconds(30))).Result);
        await using var check = store.NewContext();
        Assert.True(await check.Events.AnyAsync(e => e.EmailId == emailId));
    }

    /// <summary>Holds the first read of the webhook subscriptions once it has run (its rows are the ones of that moment) until released.</summary>
    private sealed class HoldAfterSubscriptionsRead : DbCommandInterceptor
    {
        private readonly TaskCompletionSource _read = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task Read => _read.Task;

        public void Release() => _release.TrySetResult();

        public override async ValueTask<DbDataReader> ReaderExecutedAsync(
            DbCommand command, CommandExecutedEventData eventData, DbDataReader result, CancellationToken cancellationToken = default)
        {
            if (command.CommandText.Contains("webhook_subscriptions", StringComparison.Ordinal) && _read.TrySetResult())
            {
                await _release.Task;
            }

            return result;
        }
    }
}
