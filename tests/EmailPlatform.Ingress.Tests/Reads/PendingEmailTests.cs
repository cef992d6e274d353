using System.Net;
using System.Text.Json;
using EmailPlatform.Ingress.Tests.Support;
using EmailPlatform.Testing;

namespace EmailPlatform.Ingress.Tests.Reads;

/// <summary>
/// <c>GET /v1/emails/{id}</c> right after the 202: until the status service has recorded the email (here a stand-in
/// that knows one email only), the ingress answers from its outbox.
/// </summary>
public sealed class PendingEmailTests
{
    private const string Recorded = "0199d7a0-0000-7000-8000-000000000001";

    [Fact]
    public async Task AnEmailTheStatusServiceDoesNotKnowYetIsAnsweredFromTheOutbox()
    {
        using var status = new StatusStandIn(line => line.EndsWith(Recorded, StringComparison.Ordinal)
            ? (200, $$"""{"object": "email", "id": "{{Recorded}}", "last_event": "delivered"}""")
            : (404, $$"""
                {"type": "{{ProblemAssert.TypeBase}}not_found", "title": "Email not found.", "status": 404, "name": "not_found",
                 "message": "No such email.", "errors": {}, "statusCode": 404}
                """));
        // No broker: what is accepted stays in the outbox, as right after a 202.
        var nowhere = new Uri($"amqp://guest:guest@127.0.0.1:{ServiceProcess.FreeTcpPort()}/");
        await using var app = await IngressApp.StartAsync(rabbitMq: nowhere, settings: new Dictionary<string, string?> { ["Ingress:StatusUrl"] = status.Url });
        using var client = app.CreateClient();
        var scheduledAt = DateTimeOffset.UtcNow.AddHours(1);
        var now = await AcceptAsync(app, SendBodies.Json(b => b["cc"] = "Carol <carol@example.test>").ToJsonString());
        var later = await AcceptAsync(app, SendBodies.Json(b => b["scheduled_at"] = scheduledAt.ToString("O")).ToJsonString());

        using var queued = JsonDocument.Parse(await client.GetStringAsync(new Uri($"/v1/emails/{now}", UriKind.Relative)));
        using var scheduled = JsonDocument.Parse(await client.GetStringAsync(new Uri($"/v1/emails/{later}", UriKind.Relative)));
        using var known = await client.GetAsync(new Uri($"/v1/emails/{Recorded}", UriKind.Relative));
        using var unknown = await client.GetAsync(new Uri($"/v1/emails/{Guid.NewGuid()}", UriKind.Relative));

        var email = queued.RootElement;
        Assert.Equal("email", email.GetProperty("object").GetString());
        Assert.Equal(now, email.GetProperty("id").GetGuid());
        Assert.Equal("queued", email.GetProperty("last_event").GetString());
        Assert.Equal("Acme Billing <billing@acme.test>", email.GetProperty("from").GetString());
        Assert.Equal(["alice@example.test"], email.GetProperty("to").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal(JsonValueKind.Null, email.GetProperty("bcc").ValueKind);
        Assert.Equal(JsonValueKind.Null, email.GetProperty("scheduled_at").ValueKind);
        Assert.Equal("Your receipt", email.GetProperty("subject").GetString());
        Assert.EndsWith("@acme.test", email.GetProperty("message_id").GetString(), StringComparison.Ordinal);
        Assert.Equal([("alice@example.test", "to"), ("carol@example.test", "cc")],
            email.GetProperty("recipients").EnumerateArray().Select(r => (r.GetProperty("email").GetString(), r.GetProperty("type").GetString())));
        Assert.Equal("scheduled", scheduled.RootElement.GetProperty("last_event").GetString());
        Assert.Equal(scheduledAt.UtcDateTime, scheduled.RootElement.GetProperty("scheduled_at").GetDateTime(), TimeSpan.FromMilliseconds(1));
        Assert.Contains("delivered", await known.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        await ProblemAssert.IsProblemAsync(unknown, HttpStatusCode.NotFound, "not_found");

        using var cancel = await client.PostAsync(new Uri($"/v1/emails/{later}/cancel", UriKind.Relative), null);
        using var canceled = JsonDocument.Parse(await client.GetStringAsync(new Uri($"/v1/emails/{later}", UriKind.Relative)));
        Assert.Equal("canceled", canceled.RootElement.GetProperty("last_event").GetString());
    }

    /// <summary>
    /// A scheduled email rescheduled, and an email accepted for now and rescheduled before it left, answered from the
    /// outbox: each shows the time it was moved to. They used to show the time of the accept, and none at all with
    /// <c>last_event</c> <c>scheduled</c>.
    /// </summary>
    [Fact]
    public async Task AnEmailRescheduledBeforeTheStatusServiceRecordedItShowsItsLatestScheduledAt()
    {
        using var status = new StatusStandIn(_ => (404, $$"""
            {"type": "{{ProblemAssert.TypeBase}}not_found", "title": "Email not found.", "status": 404, "name": "not_found",
             "message": "No such email.", "errors": {}, "statusCode": 404}
            """));
        var nowhere = new Uri($"amqp://guest:guest@127.0.0.1:{ServiceProcess.FreeTcpPort()}/");
        await using var app = await IngressApp.StartAsync(rabbitMq: nowhere, settings: new Dictionary<string, string?> { ["Ingress:StatusUrl"] = status.Url });
        using var client = app.CreateClient();
        var scheduled = await AcceptAsync(app, SendBodies.Json(b => b["scheduled_at"] = DateTimeOffset.UtcNow.AddHours(1).ToString("O")).ToJsonString());
        var atOnce = await AcceptAsync(app, SendBodies.Json().ToJsonString());
        var movedTo = DateTimeOffset.UtcNow.AddHours(3);
        var sentNowMovedTo = DateTimeOffset.UtcNow.AddHours(2);
        foreach (var (id, at) in new[] { (scheduled, movedTo), (atOnce, sentNowMovedTo) })
        {
            using var patch = await client.PatchAsync(new Uri($"/v1/emails/{id}", UriKind.Relative),
                new StringContent($$"""{"scheduled_at": "{{at:O}}"}""", System.Text.Encoding.UTF8, "application/json"));
            Assert.Equal(HttpStatusCode.OK, patch.StatusCode);
        }

        foreach (var (id, at) in new[] { (scheduled, movedTo), (atOnce, sentNowMovedTo) })
        {
            using var email = JsonDocument.Parse(await client.GetStringAsync(new Uri($"/v1/emails/{id}", UriKind.Relative)));
            Assert.Equal("scheduled", email.RootElement.GetProperty("last_event").GetString());
            Assert.Equal(JsonValueKind.String, email.RootElement.GetProperty("scheduled_at").ValueKind);
            Assert.Equal(at.UtcDateTime, email.RootElement.GetProperty("scheduled_at").GetDateTime(), TimeSpan.FromMilliseconds(1));
        }
    }

    private static async Task<Guid> AcceptAsync(IngressApp app, string json)
    {
        using var response = await app.PostEmailAsync(json);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Accepted, $"{(int)response.StatusCode}: {text}");
        return JsonDocument.Parse(text).RootElement.GetProperty("id").GetGuid();
    }
}
