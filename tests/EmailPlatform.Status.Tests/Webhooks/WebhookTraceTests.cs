using System.Diagnostics;
using EmailPlatform.Status.Recording;
using EmailPlatform.Status.Tests.Support;
using EmailPlatform.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using static EmailPlatform.Status.Tests.Webhooks.WebhookTesting;

namespace EmailPlatform.Status.Tests.Webhooks;

/// <summary>
/// Each webhook attempt is a span in the email's trace: the consume that recorded the event hands its traceparent to
/// the writer, the delivery row keeps it (PostgreSQL, written by the bulk COPY), and the dispatcher's spans are its children.
/// </summary>
[Collection(Recording.RecordedEventsCounter.Collection)]
public sealed class WebhookTraceTests
{
    private const string Alice = "alice@example.com";

    [Fact]
    public async Task EachAttemptIsAClientSpanUnderTheConsumeThatRecordedTheEvent()
    {
        var emailId = Guid.NewGuid();
        using var spans = new SpanRecorder(
            ["EmailPlatform.Status"], activity => activity.DisplayName == "webhook deliver" && Equals(activity.GetTagItem("email.id"), emailId.ToString()));

        await using var receiver = await WebhookReceiver.StartAsync();
        receiver.FailFirst = 1;
        await using var api = await StatusApi.StartAsync(FastRetries());
        using var client = api.CreateClient();
        await SubscribeAsync(client, receiver.Url, "email.delivered");
        await api.RecordAsync(TestEvents.Accepted(emailId, to: [Alice]));

        // The consume of the delivered event, as MassTransit's would be: current while the consumer hands the event over.
        var writer = api.Services.GetRequiredService<StatusEventWriter>();
        var consume = new Activity("recipient-outcome process").SetIdFormat(ActivityIdFormat.W3C).Start();
        try
        {
            await writer.RecordAsync(TestEvents.Delivered(emailId, Alice), CancellationToken.None);
        }
        finally
        {
            consume.Stop();
        }

        Assert.Equal(consume.Id, await api.WithStoreAsync(db => db.WebhookDeliveries.Where(d => d.EmailId == emailId).Select(d => d.TraceParent).SingleAsync()));
        var attempts = await Eventually.GetAsync(
            () => Task.FromResult(spans.Stopped.OrderBy(s => s.GetTagItem("emailplatform.webhook.attempt")).ToList()),
            s => s.Count >= 2, TimeSpan.FromSeconds(20), "two attempt spans");

        Assert.All(attempts, s =>
        {
            Assert.Equal(ActivityKind.Client, s.Kind);
            Assert.Equal(consume.TraceId, s.TraceId);
            Assert.Equal(consume.SpanId, s.ParentSpanId);
            Assert.Equal(receiver.Url.ToString(), s.GetTagItem("url.full"));
            Assert.Equal("POST", s.GetTagItem("http.request.method"));
        });
        var (failed, succeeded) = (attempts[0], attempts[1]);
        Assert.Equal(1, failed.GetTagItem("emailplatform.webhook.attempt"));
        Assert.Equal(500, failed.GetTagItem("http.response.status_code"));
        Assert.Equal("5xx", failed.GetTagItem("error.type"));
        Assert.Equal(ActivityStatusCode.Error, failed.Status);
        Assert.Equal(2, succeeded.GetTagItem("emailplatform.webhook.attempt"));
        Assert.Equal(1, succeeded.GetTagItem("http.request.resend_count"));
        Assert.Equal(200, succeeded.GetTagItem("http.response.status_code"));
        Assert.Equal(ActivityStatusCode.Unset, succeeded.Status);
        Assert.Null(succeeded.GetTagItem("error.type"));
    }

    [Theory]
    [InlineData("https://hooks.example.com/in", "https://hooks.example.com/in")]
    [InlineData("https://user:pass@hooks.example.com:8443/in?token=abc&v=2", "https://REDACTED:REDACTED@hooks.example.com:8443/in?token=REDACTED&v=REDACTED")]
    [InlineData("https://hooks.example.com/users/alice@example.com/events", "https://hooks.example.com/users/{address}/events")]
    public void TheSpansUrlHasNoCredentialsQueryValuesOrAddresses(string url, string expected) =>
        Assert.Equal(expected, EmailPlatform.Status.Webhooks.WebhookSender.RedactedUrl(new Uri(url)));
}
