using System.Net;
using System.Text;
using System.Text.Json;
using EmailPlatform.Contracts;
using EmailPlatform.Status.Bulk;
using EmailPlatform.Status.Tests.Support;
using EmailPlatform.Testing;
using MassTransit;
using Microsoft.EntityFrameworkCore;

namespace EmailPlatform.Status.Tests.Bulk;

/// <summary><c>POST /v1/bulk/retry</c> and <c>/v1/bulk/cancel</c> over HTTP, on a real PostgreSQL, with the commands read off a real RabbitMQ.</summary>
public sealed class BulkOperationsTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task RetrySendsOneCommandPerEmailWithItsDeferredAndFailedRecipientsAndIsAudited()
    {
        await using var api = await StatusApi.StartAsync();
        await using var listener = await CommandListener.StartAsync(api.RabbitMqUri);
        var (partly, failed, bounced, scheduled, otherTag) = (Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid());
        await api.RecordAsync(
            TestEvents.Accepted(partly, to: ["alice@example.com"], cc: ["bob@example.com"]),
            TestEvents.Deferred(partly, "alice@example.com", nextAttemptAt: DateTimeOffset.UtcNow.AddHours(1)),
            TestEvents.Delivered(partly, "bob@example.com"),
            TestEvents.Accepted(failed, to: ["carol@example.com"]),
            new EmailFailed(NewId.NextGuid(), failed, "carol@example.com", "relay-a", 9, null, "retry window expired", DateTimeOffset.UtcNow),
            TestEvents.Accepted(bounced, to: ["dave@example.com"]),
            TestEvents.Bounced(bounced, "dave@example.com"),
            TestEvents.Accepted(scheduled, to: ["erin@example.com"], scheduledAt: DateTimeOffset.UtcNow.AddDays(1)),
            TestEvents.Accepted(otherTag, to: ["frank@example.com"]) with { Tags = [new EmailTag("category", "newsletter")] },
            TestEvents.Deferred(otherTag, "frank@example.com"));
        using var client = api.CreateClient();

        using var response = await PostAsync(client, "retry", """{"filter": {"tag": ["category:receipt"]}}""");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await JsonAsync(response);
        Assert.Equal(("bulk_retry", false, 2, 2, false), (body.GetProperty("object").GetString(), body.GetProperty("dry_run").GetBoolean(),
            body.GetProperty("emails").GetInt32(), body.GetProperty("recipients").GetInt32(), body.GetProperty("truncated").GetBoolean()));
        Assert.Equal(
            [(partly, "alice@example.com"), (failed, "carol@example.com")],
            body.GetProperty("data").EnumerateArray()
                .Select(i => (i.GetProperty("email_id").GetGuid(), Assert.Single(i.GetProperty("recipients").EnumerateArray()).GetString()!))
                .OrderBy(i => i.Item2, StringComparer.Ordinal));

        var retries = await Eventually.GetAsync(() => Task.FromResult(listener.Retries), r => r.Count >= 2, Timeout, "two RetryRecipients commands");
        Assert.Equal(
            [(partly, "alice@example.com"), (failed, "carol@example.com")],
            retries.Select(r => (r.EmailId, Assert.Single(r.Recipients))).OrderBy(r => r.Item2, StringComparer.Ordinal));
        Assert.NotEqual(retries[0].CommandId, retries[1].CommandId);

        var audit = await api.WithStoreAsync(db => db.AuditRecords.AsNoTracking().SingleAsync());
        Assert.Equal((BulkEndpoints.RetryAction, body.GetProperty("id").GetGuid()), (audit.Action, audit.Id));
        Assert.Contains("category:receipt", audit.Subject, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DryRunReportsTheSelectionAndSendsNothingWhileCancelSendsOneCommandPerScheduledEmail()
    {
        await using var api = await StatusApi.StartAsync();
        await using var listener = await CommandListener.StartAsync(api.RabbitMqUri);
        var (later, muchLater, queued) = (Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid());
        await api.RecordAsync(
            TestEvents.Accepted(later, to: ["alice@example.com"], scheduledAt: DateTimeOffset.UtcNow.AddHours(2)),
            TestEvents.Accepted(muchLater, to: ["bob@example.com"], scheduledAt: DateTimeOffset.UtcNow.AddDays(2)),
            TestEvents.Accepted(queued, to: ["carol@example.com"]),
            TestEvents.Deferred(queued, "carol@example.com"));
        using var client = api.CreateClient();

        using var dryRetry = await PostAsync(client, "retry", """{"filter": {"status": "delivery_delayed"}, "dry_run": true}""");
        using var dryCancel = await PostAsync(client, "cancel", """{"filter": {}, "dry_run": true}""");

        var retryBody = await JsonAsync(dryRetry);
        Assert.Equal((true, 1, 1), (retryBody.GetProperty("dry_run").GetBoolean(), retryBody.GetProperty("emails").GetInt32(), retryBody.GetProperty("recipients").GetInt32()));
        Assert.Equal(JsonValueKind.Null, retryBody.GetProperty("id").ValueKind);
        var cancelBody = await JsonAsync(dryCancel);
        Assert.Equal(new[] { later, muchLater }.Order(), cancelBody.GetProperty("data").EnumerateArray().Select(i => i.GetProperty("email_id").GetGuid()).Order());

        // The real cancel's commands travel the same queue after anything the dry runs could have sent.
        using var cancel = await PostAsync(client, "cancel", """{"filter": {"status": "scheduled", "created_after": "2000-01-01T00:00:00Z"}}""");
        Assert.Equal(2, (await JsonAsync(cancel)).GetProperty("emails").GetInt32());
        var cancels = await Eventually.GetAsync(() => Task.FromResult(listener.Cancels), c => c.Count >= 2, Timeout, "two CancelEmail commands");
        Assert.Equal(new[] { later, muchLater }.Order(), cancels.Select(c => c.EmailId).Order());
        Assert.Empty(listener.Retries);
        Assert.Equal(2, listener.Received.Count);
        Assert.Equal([BulkEndpoints.CancelAction], await api.WithStoreAsync(db => db.AuditRecords.Select(a => a.Action).ToListAsync()));
    }

    [Fact]
    public async Task MoreMatchesThanOneRequestMayTouchAreTruncatedWithACursorForTheRest()
    {
        await using var api = await StatusApi.StartAsync(new Dictionary<string, string> { ["Status:Bulk:MaxEmails"] = "2" });
        var ids = Enumerable.Range(0, 3).Select(_ => Guid.NewGuid()).ToList();
        await api.RecordAsync([.. ids.Select(id => (object)TestEvents.Accepted(id, to: ["alice@example.com"], scheduledAt: DateTimeOffset.UtcNow.AddHours(1)))]);
        using var client = api.CreateClient();

        var first = await JsonAsync(await PostAsync(client, "cancel", """{"dry_run": true}"""));
        Assert.Equal((2, true), (first.GetProperty("emails").GetInt32(), first.GetProperty("truncated").GetBoolean()));
        var cursor = first.GetProperty("next_cursor").GetString();
        var rest = await JsonAsync(await PostAsync(client, "cancel", $$"""{"dry_run": true, "cursor": "{{cursor}}"}"""));
        Assert.Equal((1, false, JsonValueKind.Null), (rest.GetProperty("emails").GetInt32(), rest.GetProperty("truncated").GetBoolean(), rest.GetProperty("next_cursor").ValueKind));

        var touched = first.GetProperty("data").EnumerateArray().Concat(rest.GetProperty("data").EnumerateArray()).Select(i => i.GetProperty("email_id").GetGuid());
        Assert.Equal(ids.Order(), touched.Order());
    }

    [Fact]
    public async Task RetryWithARecipientFilterRetriesThatRecipientAloneAndNotTheEmailsOthers()
    {
        await using var api = await StatusApi.StartAsync();
        var (aliceDelivered, bothDeferred) = (Guid.NewGuid(), Guid.NewGuid());
        await api.RecordAsync(
            TestEvents.Accepted(aliceDelivered, to: ["alice@example.com", "bob@example.com"]),
            TestEvents.Delivered(aliceDelivered, "alice@example.com"),
            new EmailFailed(NewId.NextGuid(), aliceDelivered, "bob@example.com", "relay-a", 9, null, "retry window expired", DateTimeOffset.UtcNow),
            TestEvents.Accepted(bothDeferred, to: ["alice@example.com", "bob@example.com"]),
            TestEvents.Deferred(bothDeferred, "alice@example.com"),
            TestEvents.Deferred(bothDeferred, "bob@example.com"));
        using var client = api.CreateClient();

        var body = await JsonAsync(await PostAsync(client, "retry", """{"filter": {"recipient": "Alice@Example.com"}, "dry_run": true}"""));

        // Alice was delivered on the first email: nothing of it is retried, Bob's failure included.
        Assert.Equal((1, 1), (body.GetProperty("emails").GetInt32(), body.GetProperty("recipients").GetInt32()));
        var item = Assert.Single(body.GetProperty("data").EnumerateArray());
        Assert.Equal(bothDeferred, item.GetProperty("email_id").GetGuid());
        Assert.Equal(["alice@example.com"], item.GetProperty("recipients").EnumerateArray().Select(r => r.GetString()));
    }

    [Theory]
    [InlineData("retry", """{"filter": {"status": "delivered"}}""", "filter.status")]
    [InlineData("retry", """{"filter": {"status": "queued,sending"}}""", "filter.status")]
    [InlineData("retry", """{"filter": {"status": " 3"}}""", "filter.status")]
    [InlineData("retry", """{"filter": {"tag": ["no-separator"]}}""", "filter.tag")]
    [InlineData("cancel", """{"filter": {"status": "queued"}}""", "filter.status")]
    [InlineData("cancel", """{"filter": {"status": " 0"}}""", "filter.status")]
    [InlineData("cancel", """{"filter": {"created_before": "yesterday"}}""", "filter.created_before")]
    [InlineData("cancel", """{"cursor": "not-a-cursor"}""", "cursor")]
    public async Task SelectionsTheOperationCannotTouchOrMalformedFiltersAreProblemDetails(string operation, string json, string field)
    {
        await using var api = await StatusApi.StartAsync();
        using var client = api.CreateClient();

        using var response = await PostAsync(client, operation, json);

        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.BadRequest, "validation_error");
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), $"errors should name {field}: {problem}");
        Assert.Equal(0, await api.WithStoreAsync(db => db.AuditRecords.CountAsync()));
    }

    private static Task<HttpResponseMessage> PostAsync(HttpClient client, string operation, string json) =>
        client.PostAsync(new Uri($"/v1/bulk/{operation}", UriKind.Relative), new StringContent(json, Encoding.UTF8, "application/json"));

    private static async Task<JsonElement> JsonAsync(HttpResponseMessage response)
    {
        using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return document.RootElement.Clone();
    }
}
