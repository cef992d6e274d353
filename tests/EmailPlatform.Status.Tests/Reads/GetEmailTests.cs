using EmailPlatform.Testing;
using System.Net;
using System.Text.Json;
using EmailPlatform.Status.Recording;
using EmailPlatform.Status.Storage;
using EmailPlatform.Status.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace EmailPlatform.Status.Tests.Reads;

/// <summary><c>GET /v1/emails/{id}</c> over HTTP, through the service's own pipeline, on a real PostgreSQL.</summary>
public sealed class GetEmailTests
{
    [Fact]
    public async Task DeliveredEmailIsReturnedInTheResendShapeWithRecipientsAndTimeline()
    {
        await using var api = await StatusApi.StartAsync();
        var emailId = Guid.NewGuid();
        var queued = TestEvents.Accepted(emailId, to: ["Alice <alice@example.com>", "bob@example.com"]);
        var toAlice = TestEvents.Delivered(emailId, "alice@example.com", relay: "relay-a");
        var toBob = TestEvents.Bounced(emailId, "bob@example.com", relay: "relay-b");
        await using (var scope = api.Services.CreateAsyncScope())
        {
            var recorder = scope.ServiceProvider.GetRequiredService<StatusRecorder>();
            await recorder.RecordAsync(queued, CancellationToken.None);
        }

        await using (var scope = api.Services.CreateAsyncScope())
        {
            var recorder = scope.ServiceProvider.GetRequiredService<StatusRecorder>();
            await recorder.RecordAsync(toAlice, CancellationToken.None);
        }

        await using (var scope = api.Services.CreateAsyncScope())
        {
            var recorder = scope.ServiceProvider.GetRequiredService<StatusRecorder>();
            await recorder.RecordAsync(toBob, CancellationToken.None);
        }

        using var client = api.CreateClient();
        using var response = await client.GetAsync(new Uri($"/v1/emails/{emailId}", UriKind.Relative));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var email = json.RootElement;
        Assert.Equal("email", email.GetProperty("object").GetString());
        Assert.Equal(emailId, email.GetProperty("id").GetGuid());
        Assert.Equal("Acme <noreply@acme.test>", email.GetProperty("from").GetString());
        Assert.Equal(["Alice <alice@example.com>", "bob@example.com"], Strings(email.GetProperty("to")));
        Assert.Equal(JsonValueKind.Null, email.GetProperty("cc").ValueKind);
        Assert.Equal(JsonValueKind.Null, email.GetProperty("bcc").ValueKind);
        Assert.Equal(JsonValueKind.Null, email.GetProperty("reply_to").ValueKind);
        Assert.Equal(JsonValueKind.Null, email.GetProperty("scheduled_at").ValueKind);
        Assert.Equal("Your receipt", email.GetProperty("subject").GetString());
        Assert.Equal("<p>Thanks for your order.</p>", email.GetProperty("html").GetString());
        Assert.Equal("Thanks for your order.", email.GetProperty("text").GetString());
        Assert.Equal(queued.MessageId, email.GetProperty("message_id").GetString());
        var createdAt = email.GetProperty("created_at").GetString()!;
        Assert.EndsWith("Z", createdAt, StringComparison.Ordinal);
        Assert.Equal(queued.AcceptedAt, DateTimeOffset.Parse(createdAt, System.Globalization.CultureInfo.InvariantCulture), TimeSpan.FromMilliseconds(1));
        Assert.Equal("bounced", email.GetProperty("last_event").GetString());
        Assert.Equal("bounced", email.GetProperty("status").GetString());
        var tag = Assert.Single(email.GetProperty("tags").EnumerateArray());
        Assert.Equal(("category", "receipt"), (tag.GetProperty("name").GetString(), tag.GetProperty("value").GetString()));
        Assert.Equal("A-1001", email.GetProperty("metadata").GetProperty("order_id").GetString());

        var recipients = email.GetProperty("recipients").EnumerateArray().ToList();
        Assert.Equal(2, recipients.Count);
        var alice = recipients[0];
        Assert.Equal(("alice@example.com", "to", "delivered", 1),
            (alice.GetProperty("email").GetString(), alice.GetProperty("type").GetString(), alice.GetProperty("status").GetString(), alice.GetProperty("attempts").GetInt32()));
        Assert.Equal((250, "2.0.0", "Ok: queued as 4F2A1"), Reply(alice.GetProperty("last_reply")));
        var bob = recipients[1];
        Assert.Equal(("bob@example.com", "bounced"), (bob.GetProperty("email").GetString(), bob.GetProperty("status").GetString()));
        Assert.Equal((550, "5.1.1", "User unknown"), Reply(bob.GetProperty("last_reply")));

        var events = email.GetProperty("events").EnumerateArray().ToList();
        Assert.Equal(
            [(queued.EventId, "email.accepted", null), (toAlice.EventId, "email.delivered", "alice@example.com"), (toBob.EventId, "email.bounced", "bob@example.com")],
            events.Select(e => (e.GetProperty("id").GetGuid(), e.GetProperty("type").GetString(), e.GetProperty("recipient").GetString())));
        Assert.All(events, e => Assert.EndsWith("Z", e.GetProperty("created_at").GetString(), StringComparison.Ordinal));
        Assert.Equal(JsonValueKind.Null, events[0].GetProperty("smtp").ValueKind);
        Assert.Equal(("relay-a", 1), (events[1].GetProperty("relay").GetString(), events[1].GetProperty("attempt").GetInt32()));
        Assert.Equal((250, "2.0.0", "Ok: queued as 4F2A1"), Reply(events[1].GetProperty("smtp")));
        Assert.Equal((550, "5.1.1", "User unknown"), Reply(events[2].GetProperty("smtp")));
    }

    [Fact]
    public async Task DeferredEmailReportsDeliveryDelayedWithTheNextAttempt()
    {
        await using var api = await StatusApi.StartAsync();
        var emailId = Guid.NewGuid();
        await using (var scope = api.Services.CreateAsyncScope())
        {
            await scope.ServiceProvider.GetRequiredService<StatusRecorder>()
                .RecordAsync(TestEvents.Accepted(emailId, to: ["alice@example.com"], cc: ["carol@example.com"]), CancellationToken.None);
        }

        var deferred = TestEvents.Deferred(emailId, "alice@example.com", nextAttemptAt: DateTimeOffset.UtcNow.AddMinutes(5));
        await using (var scope = api.Services.CreateAsyncScope())
        {
            await scope.ServiceProvider.GetRequiredService<StatusRecorder>()
                .RecordAsync(deferred, CancellationToken.None);
        }

        using var client = api.CreateClient();
        using var json = JsonDocument.Parse(await client.GetStringAsync(new Uri($"/v1/emails/{emailId}", UriKind.Relative)));

        var email = json.RootElement;
        Assert.Equal(("delivery_delayed", "deferred"), (email.GetProperty("last_event").GetString(), email.GetProperty("status").GetString()));
        Assert.Equal(["carol@example.com"], Strings(email.GetProperty("cc")));
        var alice = email.GetProperty("recipients").EnumerateArray().Single(r => r.GetProperty("email").GetString() == "alice@example.com");
        Assert.Equal("deferred", alice.GetProperty("status").GetString());
        Assert.Equal(deferred.Reason, alice.GetProperty("reason").GetString());
        Assert.EndsWith("Z", alice.GetProperty("next_attempt_at").GetString(), StringComparison.Ordinal);
        var carol = email.GetProperty("recipients").EnumerateArray().Single(r => r.GetProperty("email").GetString() == "carol@example.com");
        Assert.Equal(("cc", "queued"), (carol.GetProperty("type").GetString(), carol.GetProperty("status").GetString()));
        Assert.Equal(JsonValueKind.Null, carol.GetProperty("last_reply").ValueKind);
    }

    [Fact]
    public async Task UnknownEmailIdAnswersNotFoundProblem()
    {
        await using var api = await StatusApi.StartAsync();
        using var client = api.CreateClient();

        using var response = await client.GetAsync(new Uri($"/v1/emails/{Guid.NewGuid()}", UriKind.Relative));

        await ProblemAssert.IsProblemAsync(response, HttpStatusCode.NotFound, "not_found");
    }

    [Fact]
    public async Task EmailKnownOnlyFromAnOutcomeAnswersWhatWasRecordedMarkedAsWithoutItsDetails()
    {
        await using var api = await StatusApi.StartAsync();
        using var client = api.CreateClient();
        var emailId = Guid.NewGuid();
        await using (var scope = api.Services.CreateAsyncScope())
        {
            await scope.ServiceProvider.GetRequiredService<StatusRecorder>().RecordAsync(
                TestEvents.Delivered(emailId, "alice@example.com"), CancellationToken.None);
        }

        using var response = await client.GetAsync(new Uri($"/v1/emails/{emailId}", UriKind.Relative));

        // Not a 404, which the ingress would answer from its outbox as queued: the recipient's outcome is known. The header
        // tells the ingress to merge the details in; the status stays short of final while the recipient list is unknown.
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, body);
        Assert.Equal(["pending"], response.Headers.GetValues("Email-Details"));
        using var json = JsonDocument.Parse(body);
        var email = json.RootElement;
        Assert.Equal((emailId, "sending", "queued"), (email.GetProperty("id").GetGuid(), email.GetProperty("status").GetString(), email.GetProperty("last_event").GetString()));
        Assert.Equal((JsonValueKind.Null, JsonValueKind.Null), (email.GetProperty("from").ValueKind, email.GetProperty("created_at").ValueKind));
        var alice = Assert.Single(email.GetProperty("recipients").EnumerateArray());
        Assert.Equal(("alice@example.com", "delivered"), (alice.GetProperty("email").GetString(), alice.GetProperty("status").GetString()));
        Assert.Contains("email.delivered", email.GetProperty("events").EnumerateArray().Select(e => e.GetProperty("type").GetString()));
    }

    [Fact]
    public async Task MalformedEmailIdAnswersNotFoundProblem()
    {
        await using var api = await StatusApi.StartAsync();
        using var client = api.CreateClient();

        using var response = await client.GetAsync(new Uri("/v1/emails/not-a-guid", UriKind.Relative));

        await ProblemAssert.IsProblemAsync(response, HttpStatusCode.NotFound, "not_found");
    }

    [Fact]
    public async Task RequestWithoutApiKeyAnswersMissingApiKeyProblem()
    {
        await using var api = await StatusApi.StartAsync();
        using var client = api.Factory.CreateClient();

        using var response = await client.GetAsync(new Uri($"/v1/emails/{Guid.NewGuid()}", UriKind.Relative));

        await ProblemAssert.IsProblemAsync(response, HttpStatusCode.Unauthorized, "missing_api_key");
    }

    [Fact]
    public async Task RequestWithWrongApiKeyAnswersInvalidApiKeyProblem()
    {
        await using var api = await StatusApi.StartAsync();
        using var client = api.Factory.CreateClient();
        client.DefaultRequestHeaders.Authorization = new("Bearer", "test_" + new string('x', 40));

        using var response = await client.GetAsync(new Uri($"/v1/emails/{Guid.NewGuid()}", UriKind.Relative));

        await ProblemAssert.IsProblemAsync(response, HttpStatusCode.Unauthorized, "invalid_api_key");
    }

    private static (int, string?, string?) Reply(JsonElement reply) =>
        (reply.GetProperty("code").GetInt32(), reply.GetProperty("enhanced_code").GetString(), reply.GetProperty("text").GetString());

    private static List<string?> Strings(JsonElement array) => [.. array.EnumerateArray().Select(e => e.GetString())];
}
