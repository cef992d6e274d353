using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text;
using EmailPlatform.ServiceDefaults.Telemetry;
using EmailPlatform.Status.Recording;

namespace EmailPlatform.Status.Webhooks;

/// <summary>One HTTP attempt of one delivery, signed per Standard Webhooks. Never retries: the dispatcher does.</summary>
public sealed class WebhookSender(IHttpClientFactory clients, TimeProvider clock, WebhookMetrics metrics)
{
    public const string HttpClientName = "webhooks";

    private static readonly ActivitySource Source = new(RecordingMetrics.MeterName);

    public async Task<WebhookAttemptResult> SendAsync(string url, string secret, WebhookDeliveryRecord delivery, CancellationToken cancellationToken)
    {
        using var activity = StartActivity(url, delivery);
        var result = await AttemptAsync(url, secret, delivery, cancellationToken);
        metrics.Attempted(result);
        if (activity is not null)
        {
            activity.SetTag("http.response.status_code", result.StatusCode);
            if (!result.Succeeded)
            {
                activity.SetTag("error.type", result.ErrorType).SetStatus(ActivityStatusCode.Error, result.Error);
            }
        }

        return result;
    }

    /// <summary>
    /// The attempt's span, a child of the consume that recorded the event (<see cref="WebhookDeliveryRecord.TraceParent"/>),
    /// so that it sits in the email's trace however long after the event it is sent; the HTTP client's own span and the
    /// <c>traceparent</c> the endpoint receives are its children. A replay has no parent and starts a trace of its own.
    /// </summary>
    private static Activity? StartActivity(string url, WebhookDeliveryRecord delivery)
    {
        var parent = delivery.TraceParent is { } traceParent && ActivityContext.TryParse(traceParent, null, out var context) ? context : default;
        var activity = Source.StartActivity("webhook deliver", ActivityKind.Client, parent);
        if (activity is null)
        {
            return null;
        }

        // Tag and baggage: the HTTP client's span under this one gets the email id too.
        EmailTelemetry.SetEmailId(activity, delivery.EmailId);
        var attempt = delivery.Attempts + 1;
        activity.SetTag("http.request.method", "POST")
            .SetTag("emailplatform.webhook.attempt", attempt)
            .SetTag("emailplatform.webhook.subscription_id", delivery.SubscriptionId)
            .SetTag("emailplatform.event.type", delivery.EventType);
        if (attempt > 1)
        {
            activity.SetTag("http.request.resend_count", attempt - 1);
        }

        if (Uri.TryCreate(url, UriKind.Absolute, out var uri))
        {
            activity.SetTag("url.full", RedactedUrl(uri)).SetTag("server.address", uri.Host).SetTag("server.port", uri.Port);
        }

        return activity;
    }

    /// <summary>
    /// The URL as the semantic conventions want it on a span: credentials and query values replaced by <c>REDACTED</c>
    /// (a webhook URL often carries a token there), and path segments holding an email address by <c>{address}</c>.
    /// </summary>
    internal static string RedactedUrl(Uri uri)
    {
        var credentials = uri.UserInfo.Length > 0 ? "REDACTED:REDACTED@" : "";
        var query = uri.Query.Length > 1
            ? "?" + string.Join('&', uri.Query[1..].Split('&').Select(p => p.Split('=', 2)[0] + "=REDACTED"))
            : "";
        return EmailTelemetry.RedactAddresses($"{uri.Scheme}://{credentials}{uri.Authority}{uri.AbsolutePath}{query}");
    }

    private async Task<WebhookAttemptResult> AttemptAsync(string url, string secret, WebhookDeliveryRecord delivery, CancellationToken cancellationToken)
    {
        var timestamp = clock.GetUtcNow().ToUnixTimeSeconds();
        using var request = new HttpRequestMessage(HttpMethod.Post, url)
        {
            Content = new StringContent(delivery.Payload, Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("webhook-id", delivery.MessageId);
        request.Headers.Add("webhook-timestamp", timestamp.ToString(System.Globalization.CultureInfo.InvariantCulture));
        request.Headers.Add("webhook-signature", WebhookSignature.Sign(secret, delivery.MessageId, timestamp, delivery.Payload));
        request.Headers.UserAgent.Add(new ProductInfoHeaderValue("EmailPlatform-Webhooks", "1.0"));

        var started = Stopwatch.GetTimestamp();
        try
        {
            using var response = await clients.CreateClient(HttpClientName).SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
            var status = (int)response.StatusCode;
            return response.IsSuccessStatusCode
                ? new WebhookAttemptResult(true, status, Elapsed(started), null)
                : new WebhookAttemptResult(false, status, Elapsed(started), $"The endpoint answered HTTP {status}.", $"{status / 100}xx");
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or WebhookTargetRefusedException && !cancellationToken.IsCancellationRequested)
        {
            return new WebhookAttemptResult(false, null, Elapsed(started), Describe(ex), ErrorType(ex));
        }
    }

    private static string Describe(Exception ex) => ex switch
    {
        TaskCanceledException => "The endpoint did not answer in time.",
        _ when ex.InnerException is WebhookTargetRefusedException refused => refused.Message,
        WebhookTargetRefusedException refused => refused.Message,
        HttpRequestException { HttpRequestError: var error } => $"The request failed: {error}.",
        _ => "The request failed.",
    };

    /// <summary>The <c>error.type</c> of a failure without a status code.</summary>
    private static string ErrorType(Exception ex) => ex switch
    {
        TaskCanceledException => "timeout",
        WebhookTargetRefusedException or { InnerException: WebhookTargetRefusedException } => "refused_target",
        _ => "connection",
    };

    private static int Elapsed(long started) => (int)Stopwatch.GetElapsedTime(started).TotalMilliseconds;
}

/// <param name="ErrorType">For a failure, its kind as the <c>error.type</c> metric tag has it: <c>4xx</c>, <c>5xx</c>, <c>timeout</c>, <c>connection</c>, <c>refused_target</c>.</param>
public sealed record WebhookAttemptResult(bool Succeeded, int? StatusCode, int LatencyMs, string? Error, string? ErrorType = null);
