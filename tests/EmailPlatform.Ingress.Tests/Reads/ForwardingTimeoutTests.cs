using System.Net;
using System.Text;
using EmailPlatform.Ingress.Tests.Support;
using EmailPlatform.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Http.Resilience;
using Microsoft.Extensions.Options;

namespace EmailPlatform.Ingress.Tests.Reads;

/// <summary>
/// How long the ingress waits for the status service (<c>Ingress:StatusTimeout</c>), and that it never repeats a forwarded
/// request: an erasure or bulk operation that runs long is answered, not cut off, and a slow search is not run twice.
/// </summary>
public sealed class ForwardingTimeoutTests
{
    [Fact]
    public async Task AForwardedRequestWaitsForIngressStatusTimeoutNotForTheResilienceHandlersAttemptTimeout()
    {
        // The standard resilience handler's attempt timeout, lowered from its 10 s to 1 s, must not apply to the
        // forwarding client: the status service's 2 s (standing for an erasure's minutes) are within Ingress:StatusTimeout
        // (ample, for a loaded machine's first request through a new client).
        using var status = new StatusStandIn(_ => (200, """{"object": "recipient", "erased": true}"""), delay: TimeSpan.FromSeconds(2));
        await using var app = await IngressApp.StartAsync(
            settings: new Dictionary<string, string?> { ["Ingress:StatusUrl"] = status.Url, ["Ingress:StatusTimeout"] = "00:00:30" },
            services: s => s.ConfigureAll<HttpStandardResilienceOptions>(o => o.AttemptTimeout.Timeout = TimeSpan.FromSeconds(1)));
        using var admin = app.CreateClient();

        using var response = await admin.DeleteAsync(new Uri("/v1/recipients/alice@example.com", UriKind.Relative));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("""{"object": "recipient", "erased": true}""", await response.Content.ReadAsStringAsync());
        Assert.Equal("DELETE /v1/recipients/alice@example.com", Assert.Single(status.Requests).Line);
    }

    [Fact]
    public async Task AStatusServiceThatDoesNotAnswerWithinIngressStatusTimeoutIsA504Problem()
    {
        using var status = new StatusStandIn(_ => (200, """{"matched": 10000}"""), delay: TimeSpan.FromSeconds(4));
        await using var app = await IngressApp.StartAsync(
            settings: new Dictionary<string, string?> { ["Ingress:StatusUrl"] = status.Url, ["Ingress:StatusTimeout"] = "00:00:01" });
        using var admin = app.CreateClient();

        using var response = await admin.PostAsync(new Uri("/v1/bulk/retry", UriKind.Relative), new StringContent("{}", Encoding.UTF8, "application/json"));

        var problem = await ProblemAssert.IsDetailedProblemAsync(response, HttpStatusCode.GatewayTimeout, "gateway_timeout");
        Assert.Contains("Ingress:StatusTimeout", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        // The stand-in records the request on its own thread once it has taken it and read its body: on a loaded machine,
        // after the ingress gave up on it.
        await Eventually.GetAsync(() => Task.FromResult(status.Requests.Count), n => n > 0, TimeSpan.FromSeconds(10), "the request recorded by the status service");
        Assert.Single(status.Requests);
    }

    [Fact]
    public async Task AStatusServiceThatStopsHalfWayThroughItsAnswerIsCutOffWithinIngressStatusTimeout()
    {
        // Headers and half a page, then nothing for a minute: the client's read of the body fails once Ingress:StatusTimeout
        // is up instead of waiting the minute (it waited the minute before, the timeout covering the headers only). 10 s
        // leave a loaded machine time to start the answer, and the 30 s of patience below still tell the two apart.
        using var status = new StatusStandIn(_ => (200, """{"object": "list", "has_more": false, "data": []}"""), bodyStall: TimeSpan.FromSeconds(60));
        await using var app = await IngressApp.StartAsync(
            settings: new Dictionary<string, string?> { ["Ingress:StatusUrl"] = status.Url, ["Ingress:StatusTimeout"] = "00:00:10" });
        using var reader = app.CreateClient();

        using var response = await reader.GetAsync(new Uri("/v1/emails?limit=5", UriKind.Relative), HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var patience = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var error = await Record.ExceptionAsync(() => response.Content.ReadAsStringAsync(patience.Token));

        Assert.False(patience.IsCancellationRequested, "the body was still being waited for after 30 s");
        Assert.NotNull(error);
    }

    [Fact]
    public async Task AnAnswerTheIngressReadsWholeThatStopsHalfWayIsA504Problem()
    {
        // An email whose outcomes the status service recorded before its details: the ingress reads the whole answer to
        // merge its outbox's details in, so nothing has been sent on when the deadline passes.
        var id = Guid.NewGuid();
        using var status = new StatusStandIn(
            _ => (200, $$"""{"object": "email", "id": "{{id}}", "recipients": []}"""), bodyStall: TimeSpan.FromSeconds(60), detailsPending: true);
        await using var app = await IngressApp.StartAsync(
            settings: new Dictionary<string, string?> { ["Ingress:StatusUrl"] = status.Url, ["Ingress:StatusTimeout"] = "00:00:01" });
        using var reader = app.CreateClient();

        using var response = await reader.GetAsync(new Uri($"/v1/emails/{id}", UriKind.Relative));

        await ProblemAssert.IsDetailedProblemAsync(response, HttpStatusCode.GatewayTimeout, "gateway_timeout");
    }

    [Fact]
    public async Task AStatusServiceThatIsDownIsA503WithRetryAfter()
    {
        // Nothing listens on this port: the connect is refused at once.
        var down = $"http://127.0.0.1:{ServiceProcess.FreeTcpPort()}/";
        await using var app = await IngressApp.StartAsync(settings: new Dictionary<string, string?> { ["Ingress:StatusUrl"] = down });
        using var admin = app.CreateClient();

        using var response = await admin.GetAsync(new Uri("/v1/emails?limit=5", UriKind.Relative));

        await ProblemAssert.IsProblemAsync(response, HttpStatusCode.ServiceUnavailable, "service_unavailable");
        Assert.True(response.Headers.RetryAfter is not null);
    }

    [Fact]
    public async Task EveryForwardedRequestReachesTheStatusServiceOnceEvenWhenItFails()
    {
        // 502 is what the standard resilience handler retries (up to three times for safe methods).
        using var status = new StatusStandIn(_ => (502, """{"title": "bad gateway"}"""));
        await using var app = await IngressApp.StartAsync(settings: new Dictionary<string, string?> { ["Ingress:StatusUrl"] = status.Url });
        using var admin = app.CreateClient();

        using var search = await admin.GetAsync(new Uri("/v1/emails?status=bounced", UriKind.Relative));
        using var erase = await admin.DeleteAsync(new Uri("/v1/recipients/alice@example.com", UriKind.Relative));
        using var retry = await admin.PostAsync(new Uri("/v1/bulk/retry", UriKind.Relative), new StringContent("{}", Encoding.UTF8, "application/json"));
        using var disable = await admin.PatchAsync(new Uri("/v1/webhooks/01", UriKind.Relative), new StringContent("""{"enabled": false}""", Encoding.UTF8, "application/json"));

        Assert.All(new[] { search, erase, retry, disable }, r => Assert.Equal(HttpStatusCode.BadGateway, r.StatusCode));
        Assert.Equal(
            ["GET /v1/emails?status=bounced", "DELETE /v1/recipients/alice@example.com", "POST /v1/bulk/retry", "PATCH /v1/webhooks/01"],
            status.Requests.Select(r => r.Line).ToArray());
    }

    [Fact]
    public async Task AnIngressStatusTimeoutOutOfRangeStopsTheIngressAtStartNamingTheKey()
    {
        var error = await Record.ExceptionAsync(async () =>
        {
            await using var app = await IngressApp.StartAsync(settings: new Dictionary<string, string?> { ["Ingress:StatusTimeout"] = "00:00:00" });
        });

        var refused = Assert.IsType<OptionsValidationException>(error);
        Assert.Contains("Ingress:StatusTimeout must be between 1 second and 1 hour.", refused.Message, StringComparison.Ordinal);
    }
}
