using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text;

namespace EmailPlatform.Status.Webhooks;

/// <summary>One HTTP attempt of one delivery, signed per Standard Webhooks. Never retries: the dispatcher does.</summary>
public sealed class WebhookSender(IHttpClientFactory clients, TimeProvider clock, WebhookMetrics metrics)
{
    public const string HttpClientName = "webhooks";

    public async Task<WebhookAttemptResult> SendAsync(string url, string secret, WebhookDeliveryRecord delivery, CancellationToken cancellationToken)
    {
        var result = await AttemptAsync(url, secret, delivery, cancellationToken);
        metrics.Attempted(result);
        return result;
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
