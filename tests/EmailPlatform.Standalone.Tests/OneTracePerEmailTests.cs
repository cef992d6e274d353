using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using EmailPlatform.Testing;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Trace;
using SmtpServer.Protocol;

namespace EmailPlatform.Standalone.Tests;

/// <summary>
/// One trace per email: the HTTP POST, the outbox publish, the bus hop, the SMTP attempt, the status write and the
/// webhook delivery share one trace id, carried by W3C trace context through the outbox row, MassTransit's headers and
/// the webhook delivery row. The standalone host runs every service in one process, so an in-memory exporter sees all
/// their spans.
/// </summary>
public sealed class OneTracePerEmailTests : IDisposable
{
    private readonly string _dataDirectory = Directory.CreateTempSubdirectory("emailplatform-trace-").FullName;

    [Fact]
    public async Task IngressOutboxWorkerSmtpStatusAndWebhookSpansShareOneTrace()
    {
        var spans = new SpanCollection();
        var apiKey = TestInfrastructure.NewApiKey();
        using var receiver = new WebhookEndpoint();
        await using var factory = StandaloneHost.Create(_dataDirectory, apiKey, ServiceProcess.FreeTcpPort(),
            web => web.ConfigureServices(services => services.ConfigureOpenTelemetryTracerProvider(tracing => tracing.AddInMemoryExporter(spans))));
        using var client = StandaloneHost.Client(factory, apiKey);

        using var subscribed = await client.PostAsJsonAsync("/v1/webhooks", new { url = receiver.Url, events = new[] { "email.delivered" } });
        Assert.Equal(HttpStatusCode.Created, subscribed.StatusCode);

        using var response = await client.PostAsJsonAsync("/v1/emails", new { from = "hello@acme.test", to = "you@example.test", subject = "Traced", text = "Hi." });
        var id = JsonNode.Parse(await response.Content.ReadAsStringAsync())!["id"]!.GetValue<string>();
        await StandaloneHost.WaitForStatusAsync(client, id, "delivered", StandaloneHost.DeliveryWait);

        var post = await Eventually.GetAsync(
            () => Task.FromResult(Snapshot(spans).FirstOrDefault(s => s.Kind == ActivityKind.Server && Equals(s.GetTagItem("url.path"), "/v1/emails"))),
            s => s is not null, StandaloneHost.DeliveryWait, "the POST span");
        var webhook = await Eventually.GetAsync(
            () => Task.FromResult(Snapshot(spans).FirstOrDefault(s => s.Source.Name == "EmailPlatform.Status" && s.DisplayName == "webhook deliver")),
            s => s is not null, StandaloneHost.DeliveryWait, "the webhook delivery span");
        var trace = Snapshot(spans).Where(s => s.TraceId == post!.TraceId).ToList();

        Assert.Equal(post!.TraceId, webhook!.TraceId);
        Assert.Equal(ActivityKind.Client, webhook.Kind);
        Assert.Equal(200, webhook.GetTagItem("http.response.status_code"));
        Assert.Equal(1, webhook.GetTagItem("emailplatform.webhook.attempt"));
        Assert.Equal(receiver.Url.ToString(), webhook.GetTagItem("url.full"));
        Assert.Null(webhook.GetTagItem("error.type"));
        // The endpoint itself is told the email's trace (the HTTP client's span under the webhook span is its parent).
        var traceParent = Assert.Single(receiver.TraceParents);
        Assert.Equal(post.TraceId, ActivityContext.Parse(traceParent!, null).TraceId);

        Assert.Contains(trace, s => s.Source.Name == "EmailPlatform.Ingress" && s.DisplayName == "outbox publish SendEmail");
        Assert.Contains(trace, s => IsConsume(s, "send-email-normal"));
        Assert.Contains(trace, s => s.Source.Name == "EmailPlatform.Delivery" && s.DisplayName == "smtp send");
        Assert.Contains(trace, s => IsConsume(s, "recipient-outcome"));
        Assert.Contains(trace, s => IsConsume(s, "email-lifecycle"));
        Assert.All(trace.Where(s => s.Source.Name != "Microsoft.AspNetCore" && !s.DisplayName.EndsWith(" receive", StringComparison.Ordinal)),
            s => Assert.True(id == s.GetTagItem("email.id")?.ToString(), $"{s.Source.Name} '{s.DisplayName}' has no email.id"));
    }

    [Fact]
    public async Task EveryAttemptOfADeferredEmailIsInItsOneTrace()
    {
        const string Recipient = "greylisted@example.test";
        await using var relay = await ScriptedSmtpServer.StartAsync();
        relay.RcptReplies[Recipient] = new SmtpResponse((SmtpReplyCode)451, "4.7.1 Greylisted, try again later");
        var spans = new SpanCollection();
        var apiKey = TestInfrastructure.NewApiKey();
        using var receiver = new WebhookEndpoint();
        await using var factory = StandaloneHost.Create(_dataDirectory, apiKey, ServiceProcess.FreeTcpPort(), web =>
        {
            web.UseSetting("Delivery:Relays:0:Name", "scripted");
            web.UseSetting("Delivery:Relays:0:Host", "127.0.0.1");
            web.UseSetting("Delivery:Relays:0:Port", relay.Port.ToString(CultureInfo.InvariantCulture));
            web.UseSetting("Delivery:Relays:0:Security", "None");
            web.UseSetting("Delivery:RetrySchedule:0", "00:00:01");
            web.ConfigureServices(services => services.ConfigureOpenTelemetryTracerProvider(tracing => tracing.AddInMemoryExporter(spans)));
        });
        using var client = StandaloneHost.Client(factory, apiKey);

        using var subscribed = await client.PostAsJsonAsync("/v1/webhooks", new { url = receiver.Url, events = new[] { "email.delivered" } });
        Assert.Equal(HttpStatusCode.Created, subscribed.StatusCode);

        using var response = await client.PostAsJsonAsync("/v1/emails", new { from = "hello@acme.test", to = Recipient, subject = "Traced", text = "Hi." });
        var id = JsonNode.Parse(await response.Content.ReadAsStringAsync())!["id"]!.GetValue<string>();
        await Eventually.GetAsync(() => Task.FromResult(SmtpSends(spans, id)), s => s.Count >= 1, StandaloneHost.DeliveryWait, "the first attempt");
        relay.RcptReplies.Clear();
        var email = await StandaloneHost.WaitForStatusAsync(client, id, "delivered", StandaloneHost.DeliveryWait);

        var post = Snapshot(spans).Single(s => s.Kind == ActivityKind.Server && Equals(s.GetTagItem("url.path"), "/v1/emails"));
        var webhook = await Eventually.GetAsync(
            () => Task.FromResult(Snapshot(spans).FirstOrDefault(s => s.Source.Name == "EmailPlatform.Status" && s.DisplayName == "webhook deliver")),
            s => s is not null, StandaloneHost.DeliveryWait, "the webhook delivery span");
        var attempts = SmtpSends(spans, id);
        var trace = Snapshot(spans).Where(s => s.TraceId == post.TraceId).ToList();

        // Attempt 1 was deferred, and the scheduler's hand-back carried the rest into the same trace: the later attempts,
        // their consumes, the status service's consumes of their outcomes and the webhook it sent.
        Assert.InRange(attempts.Count, 2, 4);
        Assert.Single(relay.Received); // the deferred attempts carried no message
        Assert.Equal(250, attempts[^1].GetTagItem("smtp.reply.code"));
        Assert.All(attempts, a => Assert.Equal(post.TraceId, a.TraceId));
        // At least: a scheduler round that rolls back hands back again, and a consume is tried again while the scheduler's
        // transaction still holds the rows (it sends before it commits).
        var handBacks = trace.Count(s => s.Source.Name == "EmailPlatform.Delivery" && s.DisplayName == "retry publish SendEmail");
        Assert.InRange(handBacks, attempts.Count - 1, int.MaxValue);
        Assert.InRange(trace.Count(s => IsConsume(s, "send-email-normal")), attempts.Count, int.MaxValue);
        Assert.InRange(trace.Count(s => IsConsume(s, "recipient-outcome")), attempts.Count, int.MaxValue);
        Assert.Equal(post.TraceId, webhook!.TraceId);
        Assert.Equal(post.TraceId.ToHexString(), email!["trace_id"]?.GetValue<string>());
        Assert.All(trace.Where(s => s.Source.Name != "Microsoft.AspNetCore" && !s.DisplayName.EndsWith(" receive", StringComparison.Ordinal)),
            s => Assert.True(id == s.GetTagItem("email.id")?.ToString(), $"{s.Source.Name} '{s.DisplayName}' has no email.id"));
    }

    /// <summary>A webhook endpoint on loopback that answers 200 and keeps the <c>traceparent</c> of every request.</summary>
    private sealed class WebhookEndpoint : IDisposable
    {
        private readonly HttpListener _listener = new();

        public WebhookEndpoint()
        {
            Url = new Uri($"http://127.0.0.1:{ServiceProcess.FreeTcpPort()}/hooks/");
            _listener.Prefixes.Add(Url.ToString());
            _listener.Start();
            _ = Task.Run(ServeAsync);
        }

        public Uri Url { get; }

        public ConcurrentQueue<string?> TraceParents { get; } = new();

        public void Dispose() => _listener.Close();

        private async Task ServeAsync()
        {
            while (true)
            {
                HttpListenerContext context;
                try
                {
                    context = await _listener.GetContextAsync();
                }
                catch (Exception ex) when (ex is HttpListenerException or ObjectDisposedException)
                {
                    return;
                }

                TraceParents.Enqueue(context.Request.Headers["traceparent"]);
                context.Response.StatusCode = 200;
                context.Response.Close();
            }
        }
    }

    private static bool IsConsume(Activity span, string endpoint) =>
        span.Source.Name == "MassTransit" && span.Kind == ActivityKind.Consumer && span.DisplayName == endpoint + " process";

    private static List<Activity> Snapshot(SpanCollection spans) => spans.Snapshot();

    /// <summary>The email's SMTP attempts so far, in the order they started.</summary>
    private static List<Activity> SmtpSends(SpanCollection spans, string emailId) =>
        [.. Snapshot(spans)
            .Where(s => s.Source.Name == "EmailPlatform.Delivery" && s.DisplayName == "smtp send" && emailId == s.GetTagItem("email.id")?.ToString())
            .OrderBy(s => s.StartTimeUtc)];

    public void Dispose() => Directory.Delete(_dataDirectory, recursive: true);
}

/// <summary>The exporter adds from the threads that end spans while the test reads: a collection safe for both.</summary>
internal sealed class SpanCollection : System.Collections.ObjectModel.Collection<Activity>
{
    private readonly Lock _lock = new();

    public List<Activity> Snapshot()
    {
        lock (_lock)
        {
            return [.. this];
        }
    }

    protected override void InsertItem(int index, Activity item)
    {
        lock (_lock)
        {
            base.InsertItem(index, item);
        }
    }
}
