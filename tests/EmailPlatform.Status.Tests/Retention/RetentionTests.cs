using System.Net;
using System.Text.Json;
using EmailPlatform.Status.Retention;
using EmailPlatform.Status.Storage;
using EmailPlatform.Status.Tests.Support;
using EmailPlatform.Status.Webhooks;
using EmailPlatform.Testing;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;

namespace EmailPlatform.Status.Tests.Retention;

/// <summary>The background purge of bodies and events, driven by a clock the test moves, and erasure of an address.</summary>
public sealed class RetentionTests
{
    private const string Alice = "alice@example.com";
    private const string Bob = "bob@example.com";

    [Fact]
    public async Task BackgroundPurgeRemovesBodiesAfterThirtyDaysAndEventsAfterNinety()
    {
        var clock = new ManualClock(DateTimeOffset.UtcNow);
        await using var api = await StatusApi.StartAsync(
            new Dictionary<string, string> { ["Status:Retention:Interval"] = "00:00:00.100" },
            s => s.AddSingleton<TimeProvider>(clock));
        var old = Guid.NewGuid();
        var recent = Guid.NewGuid();
        await api.RecordAsync(
            TestEvents.Accepted(old, to: [Alice]), TestEvents.Delivered(old, Alice),
            TestEvents.Accepted(recent, to: [Alice]) with { AcceptedAt = DateTimeOffset.UtcNow.AddDays(35) });

        clock.Advance(TimeSpan.FromDays(40));
        var purged = await Eventually.GetAsync(() => api.WithStoreAsync(db => db.Emails.AsNoTracking().SingleAsync(e => e.Id == old)),
            e => e.Html is null, TimeSpan.FromSeconds(10), "the old email's bodies purged");
        Assert.Null(purged.Text);
        Assert.Empty(purged.AttachmentNames);
        Assert.Equal("Your receipt", purged.Subject);
        var kept = await api.WithStoreAsync(db => db.Emails.AsNoTracking().SingleAsync(e => e.Id == recent));
        Assert.NotNull(kept.Html);
        Assert.Equal(["receipt.pdf"], kept.AttachmentNames);
        Assert.Equal(3, await api.WithStoreAsync(db => db.Events.CountAsync()));

        clock.Advance(TimeSpan.FromDays(60));
        await Eventually.GetAsync(() => api.WithStoreAsync(db => db.Events.CountAsync(e => e.EmailId == old)),
            n => n == 0, TimeSpan.FromSeconds(10), "the old email's events purged");

        // The email itself stays readable, with its recipients' states.
        using var client = api.CreateClient();
        using var response = await client.GetAsync(new Uri($"/v1/emails/{old}", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal("delivered", json.RootElement.GetProperty("last_event").GetString());
        Assert.Equal(JsonValueKind.Null, json.RootElement.GetProperty("html").ValueKind);
    }

    [Fact]
    public async Task ErasureWhileARecorderBatchHoldsTheEmailWaitsForItAndLosesNeither()
    {
        await using var store = await StatusStore.PostgresAsync();
        var emailId = Guid.NewGuid();
        await store.RecordAsync(TestEvents.Accepted(emailId, to: [Alice, Bob]));

        // The recorder has locked the email and holds its batch until another writer waits for it.
        var hold = new HoldUntilAnotherWriterWaits(store.PostgresConnectionString!);
        var recording = store.RecordAsync(TestEvents.Delivered(emailId, Bob), hold);
        await hold.Holding.WaitAsync(TimeSpan.FromSeconds(60));
        await using var db = store.NewContext();

        var erasure = await EraseAsync(db, Alice);
        await recording.WaitAsync(TimeSpan.FromSeconds(90));

        var erased = Assert.IsType<Ok<ErasureResponse>>(erasure.Result);
        Assert.Equal(1, erased.Value!.Emails);
        var email = await store.EmailAsync(emailId);
        Assert.DoesNotContain(email.Recipients, r => r.Address == Alice);
        Assert.Equal(EmailState.Delivered, email.Recipients.Single(r => r.Address == Bob).State);
        Assert.Contains(await store.EventsAsync(emailId), e => e.Recipient == Bob && e.Type == "email.delivered");
    }

    [Fact]
    public async Task OutcomeArrivingAfterTheErasureOfItsRecipientIsRecordedWithoutBringingTheAddressBack()
    {
        await using var store = await StatusStore.PostgresAsync();
        var emailId = Guid.NewGuid();
        await store.RecordAsync(TestEvents.Accepted(emailId, to: [Alice, Bob]));
        await store.RecordAsync(TestEvents.Delivered(emailId, Bob));
        await store.RecordAsync(TestEvents.Deferred(emailId, Alice, attempt: 1, nextAttemptAt: DateTimeOffset.UtcNow.AddMinutes(1)));
        await using (var db = store.NewContext())
        {
            await EraseAsync(db, Alice);
        }

        // The deferred attempt succeeds later: its outcome still names the address.
        await store.RecordAsync(TestEvents.Delivered(emailId, Alice, attempt: 2));

        var email = await store.EmailAsync(emailId);
        Assert.Equal(EmailState.Delivered, email.State);
        Assert.DoesNotContain(email.Recipients, r => r.Address == Alice);
        var placeholder = Assert.Single(email.Recipients, r => r.Address == RecipientErasure.PlaceholderFor(Alice));
        Assert.Equal((EmailState.Delivered, 2, (string?)null), (placeholder.State, placeholder.Attempt, placeholder.SmtpText));
        var events = await store.EventsAsync(emailId);
        Assert.DoesNotContain(events, e => e.Recipient == Alice || (e.SmtpText ?? "").Contains(Alice, StringComparison.Ordinal));
        Assert.Equal(2, events.Count(e => e.Recipient == placeholder.Address));
        Assert.Equal(2, await store.CountRecipientsAsync(emailId));
    }

    [Fact]
    public async Task DetailsArrivingAfterTheErasureOfARecipientKeepTheErasure()
    {
        await using var store = await StatusStore.PostgresAsync();
        var emailId = Guid.NewGuid();

        // Alice's outcome overtakes the email's details, and her address is erased before they arrive.
        await store.RecordAsync(TestEvents.Delivered(emailId, Alice));
        await using (var db = store.NewContext())
        {
            await EraseAsync(db, Alice);
        }

        await store.RecordAsync(TestEvents.Accepted(emailId, to: [$"Alice <{Alice}>"], cc: [Bob]));
        await store.RecordAsync(TestEvents.Delivered(emailId, Bob));

        var email = await store.EmailAsync(emailId);
        var placeholder = RecipientErasure.PlaceholderFor(Alice);
        Assert.Equal(EmailState.Delivered, email.State);
        Assert.Equal([(Bob, "cc"), (placeholder, "to")], email.Recipients.Select(r => (r.Address, r.Kind!)).Order());
        Assert.Equal([placeholder], email.To);
        Assert.Equal([Bob], email.Cc);
        Assert.Null(email.Html);
        Assert.Null(email.Text);
    }

    [Fact]
    public async Task ErasingAnAddressRemovesItEverywhereAndLeavesAnAuditRecord()
    {
        await using var api = await StatusApi.StartAsync(new Dictionary<string, string> { ["Webhooks:AllowPrivateTargets"] = "true" });
        using var client = api.CreateClient();
        var first = Guid.NewGuid();
        var second = Guid.NewGuid();
        var untouched = Guid.NewGuid();
        await api.WithStoreAsync(async db =>
        {
            db.WebhookSubscriptions.Add(new WebhookSubscriptionRecord
            {
                Id = Guid.NewGuid(), Url = "http://127.0.0.1:9/hooks", Events = ["email.bounced"], Secret = WebhookSignature.NewSecret(),
                CreatedAt = DateTime.UtcNow, UpdatedAt = DateTime.UtcNow,
            });
            return await db.SaveChangesAsync();
        });
        await api.RecordAsync(
            TestEvents.Accepted(first, to: ["Bob <Bob@Example.com>", Alice]), TestEvents.Bounced(first, "bob@example.com"), TestEvents.Delivered(first, Alice),
            TestEvents.Accepted(second, to: [Alice], cc: ["bob@example.com"]),
            TestEvents.Accepted(untouched, to: [Alice]));
        using (var suppressed = await client.GetAsync(new Uri("/v1/suppressions/bob@example.com", UriKind.Relative)))
        {
            Assert.Equal(HttpStatusCode.OK, suppressed.StatusCode);
        }

        using var erase = await client.DeleteAsync(new Uri("/v1/recipients/BOB@example.com", UriKind.Relative));

        var body = await erase.Content.ReadAsStringAsync();
        Assert.True(erase.StatusCode == HttpStatusCode.OK, body);
        using var result = JsonDocument.Parse(body);
        Assert.Equal((2, 1, 1, 1), (result.RootElement.GetProperty("emails").GetInt32(), result.RootElement.GetProperty("events").GetInt32(),
            result.RootElement.GetProperty("suppressions").GetInt32(), result.RootElement.GetProperty("webhook_deliveries").GetInt32()));
        Assert.Equal(0, await api.WithStoreAsync(db => db.WebhookDeliveries.CountAsync()));

        foreach (var id in new[] { first, second })
        {
            using var response = await client.GetAsync(new Uri($"/v1/emails/{id}", UriKind.Relative));
            var json = await response.Content.ReadAsStringAsync();
            Assert.DoesNotContain("bob@example.com", json, StringComparison.OrdinalIgnoreCase);
            Assert.Contains("erased.invalid", json, StringComparison.Ordinal);
        }

        Assert.Empty(await api.WithStoreAsync(db => db.Recipients.Where(r => r.Address == "bob@example.com").ToListAsync()));
        Assert.Equal(0, await api.WithStoreAsync(db => db.Events.CountAsync(e => e.Recipient == "bob@example.com")));
        Assert.Equal(3, await api.WithStoreAsync(db => db.Recipients.CountAsync(r => r.Address == Alice)));
        var email = await api.WithStoreAsync(db => db.Emails.AsNoTracking().SingleAsync(e => e.Id == first));
        Assert.Equal(EmailState.Bounced, email.State);
        using (var suppressed = await client.GetAsync(new Uri("/v1/suppressions/bob@example.com", UriKind.Relative)))
        {
            Assert.Equal(HttpStatusCode.NotFound, suppressed.StatusCode);
        }

        var audit = Assert.Single(await api.WithStoreAsync(db => db.AuditRecords.AsNoTracking().ToListAsync()));
        Assert.Equal(("recipient.erased", "bootstrap"), (audit.Action, audit.Actor));
        Assert.Equal(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData("bob@example.com"u8.ToArray())), audit.Subject);
        Assert.DoesNotContain("bob", audit.Details, StringComparison.OrdinalIgnoreCase);
    }

    /// <summary><c>DELETE /v1/recipients/{address}</c>'s handler, called on a context of the test's own.</summary>
    private static Task<Results<Ok<ErasureResponse>, ValidationProblem>> EraseAsync(StatusDbContext db, string address) =>
        RecipientErasure.EraseAsync(address, new DefaultHttpContext(), db, TimeProvider.System, NullLogger<ErasureResponse>.Instance, CancellationToken.None);
}
