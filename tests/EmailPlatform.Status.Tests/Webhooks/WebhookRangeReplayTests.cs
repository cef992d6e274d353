using System.Data.Common;
using System.Text.Json;
using EmailPlatform.Status.Tests.Support;
using EmailPlatform.Status.Webhooks;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;

namespace EmailPlatform.Status.Tests.Webhooks;

/// <summary>
/// What a range replay reads: no further than its limit when it counts the range, and of the emails only what a payload
/// carries, never their bodies (an hour of 80 KB emails would be hundreds of megabytes); and what it sends: never an
/// event the recorder withheld from the subscriptions.
/// </summary>
public sealed class WebhookRangeReplayTests
{
    [Theory]
    [InlineData("postgres")]
    [InlineData("sqlite")]
    public async Task RangeReplayCountsUpToItsLimitAndReadsNoBodies(string provider)
    {
        await using var store = provider == "postgres" ? await StatusStore.PostgresAsync() : await StatusStore.SqliteAsync();
        var emailId = Guid.NewGuid();
        await store.RecordAsync(TestEvents.Accepted(emailId, to: ["alice@example.com"]));
        await store.RecordAsync(TestEvents.Delivered(emailId, "alice@example.com"));
        var subscription = new WebhookSubscriptionRecord
        {
            Id = Guid.NewGuid(), Url = "https://hooks.example.com/email", Events = ["email.delivered"], Secret = "whsec_dGVzdA==",
            CreatedAt = DateTime.UtcNow.AddHours(-1), UpdatedAt = DateTime.UtcNow,
        };
        await using (var db = store.NewContext())
        {
            db.WebhookSubscriptions.Add(subscription);
            await db.SaveChangesAsync();
        }

        var statements = new StatementLog();
        await using (var db = store.NewContext(statements))
        {
            var result = await WebhookDeliveriesEndpoints.ReplayRangeAsync(subscription.Id.ToString(),
                new ReplayRangeRequest(DateTimeOffset.UtcNow.AddHours(-1), DateTimeOffset.UtcNow.AddMinutes(1)), db, TimeProvider.System, CancellationToken.None);
            Assert.Equal(1, Assert.IsType<Accepted<ReplayResponse>>(result.Result).Value!.Replayed);
        }

        // The event now has a delivery on its way: a replay of what the subscription has not received finds nothing.
        await using (var db = store.NewContext())
        {
            var result = await WebhookDeliveriesEndpoints.ReplayRangeAsync(subscription.Id.ToString(),
                new ReplayRangeRequest(DateTimeOffset.UtcNow.AddHours(-1), DateTimeOffset.UtcNow.AddMinutes(1), OnlyUndelivered: true), db, TimeProvider.System,
                CancellationToken.None);
            Assert.Equal(0, Assert.IsType<Accepted<ReplayResponse>>(result.Result).Value!.Replayed);
        }

        var count = Assert.Single(statements.Selects, s => s.Contains("count(*)", StringComparison.OrdinalIgnoreCase));
        Assert.Contains("LIMIT", count, StringComparison.Ordinal);
        // The one read of the emails (the only statement naming their message_id); a column is e.html or "e"."html".
        var emails = Assert.Single(statements.Selects, s => s.Contains("message_id", StringComparison.Ordinal));
        Assert.DoesNotMatch(@"\.""?(html|text)\b", emails);

        // The payload still has everything it carried.
        await using (var db = store.NewContext())
        {
            var replay = await db.WebhookDeliveries.AsNoTracking().SingleAsync(d => d.SubscriptionId == subscription.Id);
            var data = JsonDocument.Parse(replay.Payload).RootElement.GetProperty("data");
            Assert.Equal(
                ($"<{emailId:N}@emailplatform.test>", "Acme <noreply@acme.test>", "alice@example.com", "Your receipt", "receipt", "A-1001"),
                (data.GetProperty("message_id").GetString(), data.GetProperty("from").GetString(), data.GetProperty("to")[0].GetString(),
                    data.GetProperty("subject").GetString(), data.GetProperty("tags")[0].GetProperty("value").GetString(),
                    data.GetProperty("metadata").GetProperty("order_id").GetString()));
        }
    }

    [Theory]
    [InlineData("postgres")]
    [InlineData("sqlite")]
    public async Task RangeReplaySendsNoEventTheRecorderWithheldForComingAfterWhatSupersededIt(string provider)
    {
        await using var store = provider == "postgres" ? await StatusStore.PostgresAsync() : await StatusStore.SqliteAsync();
        var subscription = new WebhookSubscriptionRecord
        {
            Id = Guid.NewGuid(), Url = "https://hooks.example.com/email", Events = ["email.delivered", "email.deferred"], Secret = "whsec_dGVzdA==",
            CreatedAt = DateTime.UtcNow.AddHours(-1), UpdatedAt = DateTime.UtcNow,
        };
        await using (var db = store.NewContext())
        {
            db.WebhookSubscriptions.Add(subscription);
            await db.SaveChangesAsync();
        }

        var emailId = Guid.NewGuid();
        // The first attempt's deferral reaches the status service after the second attempt's delivery.
        var deferred = TestEvents.Deferred(emailId, "alice@example.com", attempt: 1, nextAttemptAt: DateTimeOffset.UtcNow.AddMinutes(1));
        await store.RecordAsync(TestEvents.Accepted(emailId, to: ["alice@example.com"]));
        await store.RecordAsync(TestEvents.Delivered(emailId, "alice@example.com", attempt: 2));
        await store.RecordAsync(deferred);

        await using (var db = store.NewContext())
        {
            Assert.Equal(["email.delivered"], await db.WebhookDeliveries.Where(d => d.SubscriptionId == subscription.Id).Select(d => d.EventType).ToListAsync());
            Assert.True(await db.Events.Where(e => e.Id == deferred.EventId).Select(e => e.Withheld).SingleAsync());
        }

        // The delivery is on its way, and the deferral was never sent: a replay of what the subscription has not
        // received must not send it now, which would take a receiver keeping the latest webhook back to deferred.
        await using (var db = store.NewContext())
        {
            var result = await WebhookDeliveriesEndpoints.ReplayRangeAsync(subscription.Id.ToString(),
                new ReplayRangeRequest(DateTimeOffset.UtcNow.AddHours(-1), DateTimeOffset.UtcNow.AddMinutes(1), OnlyUndelivered: true), db, TimeProvider.System,
                CancellationToken.None);
            Assert.Equal(0, Assert.IsType<Accepted<ReplayResponse>>(result.Result).Value!.Replayed);
        }

        // Nor does a replay of the whole range: it sends what the subscription was sent.
        await using (var db = store.NewContext())
        {
            var result = await WebhookDeliveriesEndpoints.ReplayRangeAsync(subscription.Id.ToString(),
                new ReplayRangeRequest(DateTimeOffset.UtcNow.AddHours(-1), DateTimeOffset.UtcNow.AddMinutes(1)), db, TimeProvider.System, CancellationToken.None);
            Assert.Equal(1, Assert.IsType<Accepted<ReplayResponse>>(result.Result).Value!.Replayed);
        }

        await using (var db = store.NewContext())
        {
            Assert.DoesNotContain("email.deferred", await db.WebhookDeliveries.Where(d => d.SubscriptionId == subscription.Id).Select(d => d.EventType).ToListAsync());
        }
    }

    private sealed class StatementLog : DbCommandInterceptor
    {
        public List<string> Selects { get; } = [];

        public override ValueTask<InterceptionResult<DbDataReader>> ReaderExecutingAsync(
            DbCommand command, CommandEventData eventData, InterceptionResult<DbDataReader> result, CancellationToken cancellationToken = default)
        {
            if (command.CommandText.TrimStart().StartsWith("SELECT", StringComparison.OrdinalIgnoreCase))
            {
                Selects.Add(command.CommandText);
            }

            return ValueTask.FromResult(result);
        }
    }
}
