using System.Net;
using System.Text.Json;
using EmailPlatform.Status.Tests.Support;
using EmailPlatform.Status.Webhooks;
using EmailPlatform.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using static EmailPlatform.Status.Tests.Webhooks.WebhookTesting;

namespace EmailPlatform.Status.Tests.Webhooks;

/// <summary>
/// An outcome can reach the status service before its email's details (they travel on different queues): its webhook
/// waits for them, up to <c>Webhooks:DetailsWait</c>, so that a receiver gets the sender, subject, tags and metadata it
/// reconciles with, and goes out without them only once that wait is over.
/// </summary>
public sealed class WebhookDetailsWaitTests
{
    private const string Alice = "alice@example.com";

    [Fact]
    public async Task OutcomeRecordedBeforeTheEmailsDetailsIsNotSentUntilTheyArriveThenIsSentWithThem()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        await using var api = await StatusApi.StartAsync(FastRetries());
        var dispatcher = await StopDispatcherLoopsAsync(api);
        using var client = api.CreateClient();
        var (subscriptionId, _) = await SubscribeAsync(client, receiver.Url, "email.delivered");
        var emailId = Guid.NewGuid();

        await api.RecordAsync(TestEvents.Delivered(emailId, Alice));

        // Pending, due when the default wait (minutes) is over, and the log says why it waits.
        Assert.Equal(0, await dispatcher.DispatchOnceAsync(CancellationToken.None));
        var waiting = Assert.Single((await DeliveriesAsync(client, subscriptionId)).GetProperty("data").EnumerateArray());
        Assert.Equal(("pending", 0, WebhookOutbox.WaitingForDetails),
            (waiting.GetProperty("status").GetString(), waiting.GetProperty("attempts").GetInt32(), waiting.GetProperty("last_error").GetString()));
        Assert.Equal(waiting.GetProperty("created_at").GetDateTime() + new WebhookOptions().DetailsWait, waiting.GetProperty("next_attempt_at").GetDateTime());

        var accepted = TestEvents.Accepted(emailId, to: [Alice]);
        await api.RecordAsync(accepted);

        // Due at once, written again with the details.
        var due = Assert.Single((await DeliveriesAsync(client, subscriptionId)).GetProperty("data").EnumerateArray());
        Assert.Equal(due.GetProperty("created_at").GetDateTime(), due.GetProperty("next_attempt_at").GetDateTime());
        Assert.Equal(JsonValueKind.Null, due.GetProperty("last_error").ValueKind);
        Assert.Equal(1, await dispatcher.DispatchOnceAsync(CancellationToken.None));

        var request = Assert.Single(await ReceivedAsync(receiver, 1, "the delivery"));
        var data = JsonDocument.Parse(request.Body).RootElement.GetProperty("data");
        Assert.Equal(
            (Alice, accepted.MessageId, "Acme <noreply@acme.test>", Alice, "Your receipt", "receipt", "A-1001"),
            (data.GetProperty("recipient").GetString(), data.GetProperty("message_id").GetString(), data.GetProperty("from").GetString(),
                data.GetProperty("to")[0].GetString(), data.GetProperty("subject").GetString(), data.GetProperty("tags")[0].GetProperty("value").GetString(),
                data.GetProperty("metadata").GetProperty("order_id").GetString()));
        var sent = await api.WithStoreAsync(db => db.WebhookDeliveries.AsNoTracking().SingleAsync());
        Assert.Equal((WebhookDeliveryStatus.Delivered, false), (sent.Status, sent.WithoutDetails));
    }

    [Fact]
    public async Task OutcomeWhoseEmailsDetailsNeverArriveIsSentWithoutThemOnceTheWaitIsOver()
    {
        var wait = TimeSpan.FromSeconds(1);
        await using var receiver = await WebhookReceiver.StartAsync();
        var settings = FastRetries();
        settings["Webhooks:DetailsWait"] = "00:00:01";
        await using var api = await StatusApi.StartAsync(settings);
        using var client = api.CreateClient();
        var (subscriptionId, _) = await SubscribeAsync(client, receiver.Url, "email.delivered");
        var emailId = Guid.NewGuid();

        await api.RecordAsync(TestEvents.Delivered(emailId, Alice));

        var request = Assert.Single(await ReceivedAsync(receiver, 1, "the delivery, after the wait"));
        var data = JsonDocument.Parse(request.Body).RootElement.GetProperty("data");
        Assert.Equal((emailId, Alice), (data.GetProperty("email_id").GetGuid(), data.GetProperty("recipient").GetString()));
        Assert.Equal((JsonValueKind.Null, JsonValueKind.Null, 0, 0),
            (data.GetProperty("from").ValueKind, data.GetProperty("subject").ValueKind, data.GetProperty("tags").GetArrayLength(),
                data.GetProperty("metadata").EnumerateObject().Count()));

        var sent = await Eventually.GetAsync(() => api.WithStoreAsync(db => db.WebhookDeliveries.AsNoTracking().SingleAsync(d => d.SubscriptionId == subscriptionId)),
            d => d.Status == WebhookDeliveryStatus.Delivered, TimeSpan.FromSeconds(10), "the delivery recorded as delivered");
        Assert.True(sent.LastAttemptAt >= sent.CreatedAt + wait, $"sent {sent.LastAttemptAt - sent.CreatedAt} after it was made, before the wait was over");
        Assert.Null(sent.LastError);
        Assert.True(sent.WithoutDetails);
    }

    [Fact]
    public async Task ReplayOfADeliverySentWithoutTheEmailsDetailsCarriesThemOnceTheyAreRecorded()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        var settings = FastRetries();
        // No wait: sent at once, without the details.
        settings["Webhooks:DetailsWait"] = "00:00:00";
        await using var api = await StatusApi.StartAsync(settings);
        using var client = api.CreateClient();
        var (subscriptionId, _) = await SubscribeAsync(client, receiver.Url, "email.delivered");
        var emailId = Guid.NewGuid();
        await api.RecordAsync(TestEvents.Delivered(emailId, Alice));
        var first = Assert.Single(await ReceivedAsync(receiver, 1, "the delivery without the details"));
        Assert.Equal(JsonValueKind.Null, JsonDocument.Parse(first.Body).RootElement.GetProperty("data").GetProperty("subject").ValueKind);
        var sent = await Eventually.GetAsync(() => DeliveriesAsync(client, subscriptionId),
            l => l.GetProperty("data")[0].GetProperty("status").GetString() == "delivered", TimeSpan.FromSeconds(10), "the delivery recorded as delivered");

        await api.RecordAsync(TestEvents.Accepted(emailId, to: [Alice]));
        using (var replay = await client.PostAsync(
            new Uri($"/v1/webhooks/{subscriptionId}/deliveries/{sent.GetProperty("data")[0].GetProperty("id").GetGuid()}/replay", UriKind.Relative), null))
        {
            Assert.Equal(HttpStatusCode.Accepted, replay.StatusCode);
        }

        var replayed = (await ReceivedAsync(receiver, 2, "the replay"))[1];
        Assert.Equal(first.Id, replayed.Id);
        var data = JsonDocument.Parse(replayed.Body).RootElement.GetProperty("data");
        Assert.Equal("Your receipt", data.GetProperty("subject").GetString());
        Assert.Equal("A-1001", data.GetProperty("metadata").GetProperty("order_id").GetString());
    }

    [Theory]
    [InlineData("-00:00:01")]
    [InlineData("01:00:01")]
    public async Task DetailsWaitOutsideZeroToAnHourStopsTheServiceAtStart(string wait)
    {
        var error = await Record.ExceptionAsync(async () =>
        {
            await using var api = await StatusApi.StartAsync(new Dictionary<string, string> { ["Webhooks:DetailsWait"] = wait });
            api.CreateClient().Dispose();
        });

        var refused = Assert.IsType<OptionsValidationException>(error);
        Assert.Contains("Webhooks:DetailsWait must be between 0 (no wait) and 1 hour.", refused.Message, StringComparison.Ordinal);
    }
}
