using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using EmailPlatform.Testing;
using SmtpServer.Protocol;

namespace EmailPlatform.EndToEnd.Tests;

/// <summary>
/// Webhooks in distributed mode: a subscription made through the ingress, an email sent through it, the worker's
/// outcomes carried over RabbitMQ to the status service, recorded in PostgreSQL with their deliveries, and sent to a
/// receiver on loopback that checks each request as a Standard Webhooks receiver does.
/// </summary>
public sealed class WebhookDeliveryOverTheBusTests
{
    private static readonly TimeSpan Bounded = TimeSpan.FromSeconds(90);

    /// <summary>Loopback receivers allowed, and a second between attempts rather than the production schedule.</summary>
    private static readonly Dictionary<string, string?> FastWebhooks = new()
    {
        ["Webhooks__AllowPrivateTargets"] = "true",
        ["Webhooks__PollInterval"] = "00:00:00.200",
        ["Webhooks__RetrySchedule__0"] = "00:00:01",
        ["Webhooks__RetrySchedule__1"] = "00:00:01",
        ["Webhooks__RetrySchedule__2"] = "00:00:01",
        ["Webhooks__RetrySchedule__3"] = "00:00:01",
        ["Webhooks__RetrySchedule__4"] = "00:00:01",
    };

    [Fact]
    public async Task EachOutcomeReachesAReceiverThatFailsTwiceSignedUnderOneIdAndAReplayArrivesAgainUnderIt()
    {
        await using var receiver = await WebhookReceiver.StartAsync(failuresPerMessage: 2);
        await using var relay = await ScriptedSmtpServer.StartAsync();
        relay.RcptReplies["gone@example.test"] = new SmtpResponse(SmtpReplyCode.MailboxUnavailable, "5.1.1 No such user here");
        await using var platform = await DistributedPlatform.StartAsync("127.0.0.1", relay.Port, status: FastWebhooks);
        using var client = platform.CreateClient();

        var (webhookId, secret) = await SubscribeAsync(client, receiver.Url, "email.delivered", "email.bounced");
        var emailId = await EmailApi.SendAsync(client, new
        {
            from = "noreply@acme.test",
            to = new[] { "ann@example.test", "gone@example.test" },
            subject = "Your receipt",
            text = "Thanks.",
            tags = new[] { new { name = "category", value = "receipt" } },
            metadata = new Dictionary<string, string> { ["order_id"] = "A-1001" },
        });

        // Two events, each answered 500, 500, then 200, every attempt under the one webhook-id of its event.
        var requests = await platform.WithLogsAsync(() => Eventually.GetAsync(
            () => Task.FromResult(receiver.Requests.ToList()), r => r.Count(x => x.Answered == 200) >= 2, Bounded, "both events taken by the receiver"));
        Assert.All(requests, r => AssertSigned(r, secret));
        var attemptsById = requests.GroupBy(r => r.Id).ToDictionary(g => g.Key, g => g.ToList());
        Assert.Equal(2, attemptsById.Count);
        Assert.All(attemptsById.Values, attempts => Assert.Equal([500, 500, 200], attempts.Select(a => a.Answered)));
        var taken = attemptsById.Values.Select(a => a[^1]).ToDictionary(r => JsonNode.Parse(r.Body)!["type"]!.GetValue<string>());

        // Each webhook-id names the event in the email's timeline, and the body describes that event and the email.
        var email = await platform.WithLogsAsync(() => EmailApi.WaitForFinalStateAsync(client, emailId, Bounded));
        var timeline = email!["events"]!.AsArray();
        foreach (var (type, recipient) in new[] { ("email.delivered", "ann@example.test"), ("email.bounced", "gone@example.test") })
        {
            var request = taken[type];
            var eventId = Guid.Parse(Assert.Single(timeline, e => e!["type"]!.GetValue<string>() == type)!["id"]!.GetValue<string>());
            Assert.Equal($"msg_{eventId:N}", request.Id);
            var data = JsonNode.Parse(request.Body)!["data"]!;
            Assert.Equal(eventId, Guid.Parse(data["event_id"]!.GetValue<string>()));
            Assert.Equal(Guid.Parse(emailId), Guid.Parse(data["email_id"]!.GetValue<string>()));
            Assert.Equal(recipient, data["recipient"]!.GetValue<string>());
            Assert.Equal("noreply@acme.test", data["from"]!.GetValue<string>());
            Assert.Equal(["ann@example.test", "gone@example.test"], data["to"]!.AsArray().Select(t => t!.GetValue<string>()));
            Assert.Equal("Your receipt", data["subject"]!.GetValue<string>());
            Assert.Equal(("category", "receipt"), (data["tags"]![0]!["name"]!.GetValue<string>(), data["tags"]![0]!["value"]!.GetValue<string>()));
            Assert.Equal("A-1001", data["metadata"]!["order_id"]!.GetValue<string>());
        }

        var deliveredData = JsonNode.Parse(taken["email.delivered"].Body)!["data"]!;
        Assert.Equal(("test-relay", 250), (deliveredData["relay"]!.GetValue<string>(), deliveredData["smtp"]!["code"]!.GetValue<int>()));
        var bouncedData = JsonNode.Parse(taken["email.bounced"].Body)!["data"]!;
        Assert.Equal((550, "5.1.1"), (bouncedData["smtp"]!["code"]!.GetValue<int>(), bouncedData["smtp"]!["enhanced_code"]!.GetValue<string>()));

        // The delivery log shows each delivered on its third attempt, after two 500s.
        var log = await platform.WithLogsAsync(() => Eventually.GetAsync(
            () => DeliveriesAsync(client, webhookId),
            l => l.Count == 2 && l.All(d => d!["status"]!.GetValue<string>() == "delivered"), Bounded, "both deliveries logged as delivered"));
        foreach (var delivery in log)
        {
            Assert.Equal(taken[delivery!["event_type"]!.GetValue<string>()].Id, delivery["message_id"]!.GetValue<string>());
            Assert.Equal(3, delivery["attempts"]!.GetValue<int>());
            Assert.Equal(200, delivery["last_status_code"]!.GetValue<int>());
            Assert.Equal([(1, 500), (2, 500), (3, 200)], delivery["log"]!.AsArray().Select(a => (a!["attempt"]!.GetValue<int>(), a["status_code"]!.GetValue<int>())));
        }

        // A replay is sent again under the same webhook-id, with the same body, signed afresh.
        var original = log.Single(d => d!["event_type"]!.GetValue<string>() == "email.delivered")!;
        var originalId = original["id"]!.GetValue<string>();
        using (var replay = await client.PostAsync(new Uri($"/v1/webhooks/{webhookId}/deliveries/{originalId}/replay", UriKind.Relative), null))
        {
            var body = await replay.Content.ReadAsStringAsync();
            Assert.True(replay.StatusCode == HttpStatusCode.Accepted, body);
            Assert.Equal(originalId, JsonNode.Parse(body)!["replay_of"]!.GetValue<string>());
        }

        var messageId = taken["email.delivered"].Id;
        var afterReplay = await platform.WithLogsAsync(() => Eventually.GetAsync(
            () => Task.FromResult(receiver.Requests.ToList()), r => r.Count(x => x.Id == messageId) == 4, Bounded, "the replayed delivery"));
        Assert.Equal(7, afterReplay.Count);
        var replayed = afterReplay.Last(r => r.Id == messageId);
        Assert.Equal(200, replayed.Answered);
        AssertSigned(replayed, secret);
        Assert.Equal(taken["email.delivered"].Body, replayed.Body);

        var replayLog = await platform.WithLogsAsync(() => Eventually.GetAsync(
            () => DeliveriesAsync(client, webhookId),
            l => l.Any(d => d!["replay_of"]?.GetValue<string>() == originalId && d["status"]!.GetValue<string>() == "delivered"), Bounded,
            "the replay logged as delivered"));
        var logged = replayLog.Single(d => d!["replay_of"]?.GetValue<string>() == originalId)!;
        Assert.Equal((messageId, 1), (logged["message_id"]!.GetValue<string>(), logged["attempts"]!.GetValue<int>()));
    }

    private static async Task<(string Id, string Secret)> SubscribeAsync(HttpClient client, Uri url, params string[] events)
    {
        using var response = await client.PostAsJsonAsync("/v1/webhooks", new { url, events });
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Created, body);
        var json = JsonNode.Parse(body)!;
        return (json["id"]!.GetValue<string>(), json["secret"]!.GetValue<string>());
    }

    private static async Task<JsonArray> DeliveriesAsync(HttpClient client, string webhookId) =>
        JsonNode.Parse(await client.GetStringAsync(new Uri($"/v1/webhooks/{webhookId}/deliveries", UriKind.Relative)))!["data"]!.AsArray();

    /// <summary>
    /// Verifies a request as a Standard Webhooks receiver does: the secret is <c>whsec_</c> and the base64 of the key;
    /// one of the space-separated signatures is <c>v1,</c> and the base64 HMAC-SHA256 of <c>{id}.{timestamp}.{body}</c>;
    /// and the timestamp is recent (a replayed capture is refused).
    /// </summary>
    private static void AssertSigned(ReceivedWebhook request, string secret)
    {
        Assert.StartsWith("whsec_", secret, StringComparison.Ordinal);
        var key = Convert.FromBase64String(secret["whsec_".Length..]);
        var expected = "v1," + Convert.ToBase64String(HMACSHA256.HashData(key, Encoding.UTF8.GetBytes($"{request.Id}.{request.Timestamp}.{request.Body}")));
        Assert.Contains(expected, request.Signature.Split(' '));
        var timestamp = DateTimeOffset.FromUnixTimeSeconds(long.Parse(request.Timestamp, CultureInfo.InvariantCulture));
        Assert.Equal(DateTimeOffset.UtcNow, timestamp, TimeSpan.FromMinutes(5));
    }
}
