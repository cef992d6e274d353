using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using EmailPlatform.Status.Tests.Support;
using EmailPlatform.Status.Webhooks;
using EmailPlatform.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace EmailPlatform.Status.Tests.Webhooks;

internal static class WebhookTesting
{
    /// <summary>Loopback receivers allowed, retries after 200 ms, the dispatcher polling every 100 ms.</summary>
    public static Dictionary<string, string> FastRetries(int retries = 5)
    {
        var settings = new Dictionary<string, string>
        {
            ["Webhooks:AllowPrivateTargets"] = "true",
            ["Webhooks:PollInterval"] = "00:00:00.100",
        };
        for (var i = 0; i < retries; i++)
        {
            settings[$"Webhooks:RetrySchedule:{i}"] = "00:00:00.200";
        }

        return settings;
    }

    /// <summary>
    /// The dispatcher of <paramref name="api"/> with its own loops stopped, for a test that runs its rounds
    /// (<see cref="WebhookDispatcher.DispatchOnceAsync"/>) and its housekeeping itself, one step at a time. A long
    /// poll interval is not enough: the housekeeping runs every <see cref="WebhookMetrics.PendingRefresh"/> whatever the
    /// interval, and would skip or purge deliveries between the test's steps.
    /// </summary>
    public static async Task<WebhookDispatcher> StopDispatcherLoopsAsync(StatusApi api)
    {
        var dispatcher = api.Services.GetRequiredService<WebhookDispatcher>();
        await dispatcher.StopAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(30));
        return dispatcher;
    }

    public static async Task<(Guid Id, string Secret)> SubscribeAsync(HttpClient client, Uri url, params string[] events)
    {
        using var response = await client.PostAsJsonAsync(new Uri("/v1/webhooks", UriKind.Relative), new { url, events });
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Created, body);
        using var json = JsonDocument.Parse(body);
        return (json.RootElement.GetProperty("id").GetGuid(), json.RootElement.GetProperty("secret").GetString()!);
    }

    public static async Task<JsonElement> GetJsonAsync(HttpClient client, string path)
    {
        using var response = await client.GetAsync(new Uri(path, UriKind.Relative));
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, body);
        using var json = JsonDocument.Parse(body);
        return json.RootElement.Clone();
    }

    public static Task<JsonElement> DeliveriesAsync(HttpClient client, Guid subscriptionId) =>
        GetJsonAsync(client, $"/v1/webhooks/{subscriptionId}/deliveries");

    public static Task<List<ReceivedWebhook>> ReceivedAsync(WebhookReceiver receiver, int count, string what) =>
        Eventually.GetAsync(() => Task.FromResult(receiver.Requests.ToList()), r => r.Count >= count, TimeSpan.FromSeconds(20), what);

    /// <summary>
    /// For a test that asserts nothing more was sent: records a later email's delivery to alice@example.com, waits until
    /// <paramref name="receiver"/> (subscribed to <c>email.delivered</c>) has it as its <paramref name="total"/>th
    /// request, then stops the dispatcher and lets the receiver answer all it got. A round has run after the ones under
    /// test, none is left to run, and the receiver had nothing else: what it has is all it will ever get.
    /// </summary>
    public static async Task SettleAfterALaterDeliveryAsync(StatusApi api, WebhookReceiver receiver, int total)
    {
        var later = Guid.NewGuid();
        await api.RecordAsync(TestEvents.Accepted(later, to: ["alice@example.com"]), TestEvents.Delivered(later, "alice@example.com"));
        await ReceivedAsync(receiver, total, "the later email's delivery");
        await api.Services.GetRequiredService<WebhookDispatcher>().StopAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(20));
        await receiver.StopAsync();
        Assert.Equal(total, receiver.Requests.Count);
        Assert.Contains(later.ToString(), receiver.Requests.Last().Body, StringComparison.Ordinal);
    }

    /// <summary>
    /// <paramref name="count"/> deliveries of <paramref name="subscriptionId"/>, a millisecond apart and each with one
    /// attempt, as a subscription's history builds up (in miniature): written straight to the store, not sent.
    /// </summary>
    /// <param name="from">When the first was made; an hour ago by default.</param>
    public static List<WebhookDeliveryRecord> History(
        Guid subscriptionId, int count, string status = WebhookDeliveryStatus.Pending, DateTime? nextAttemptAt = null, DateTime? from = null)
    {
        var start = from ?? DateTime.UtcNow.AddHours(-1);
        return [.. Enumerable.Range(0, count).Select(i =>
        {
            var delivery = new WebhookDeliveryRecord
            {
                Id = Guid.CreateVersion7(), SubscriptionId = subscriptionId, MessageId = $"msg_{Guid.NewGuid():N}", EventId = Guid.NewGuid(),
                EmailId = Guid.NewGuid(), EventType = "email.delivered", Payload = "{}", Status = status, Attempts = 1,
                CreatedAt = start.AddMilliseconds(i), LastAttemptAt = start.AddMilliseconds(i),
                NextAttemptAt = status == WebhookDeliveryStatus.Pending ? nextAttemptAt ?? DateTime.UtcNow.AddHours(1) : null,
            };
            delivery.Log.Add(new WebhookAttemptRecord
            {
                Id = Guid.CreateVersion7(), DeliveryId = delivery.Id, Attempt = 1, AttemptedAt = delivery.CreatedAt, StatusCode = 500, LatencyMs = 3,
            });
            return delivery;
        })];
    }

    /// <summary>Verifies a request as a Standard Webhooks receiver does, with the secret it was given.</summary>
    public static void AssertSigned(ReceivedWebhook request, string secret)
    {
        Assert.StartsWith("v1,", request.Signature, StringComparison.Ordinal);
        var key = Convert.FromBase64String(secret["whsec_".Length..]);
        var expected = Convert.ToBase64String(HMACSHA256.HashData(key, Encoding.UTF8.GetBytes($"{request.Id}.{request.Timestamp}.{request.Body}")));
        Assert.Equal("v1," + expected, request.Signature);
        var timestamp = DateTimeOffset.FromUnixTimeSeconds(long.Parse(request.Timestamp, System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(DateTimeOffset.UtcNow, timestamp, TimeSpan.FromMinutes(1));
    }
}
