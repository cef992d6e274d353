using System.Net;
using System.Text;
using EmailPlatform.Ingress.Tests.Support;
using EmailPlatform.Testing;

namespace EmailPlatform.Ingress.Tests.Reads;

/// <summary><c>POST /v1/bulk/…</c> on the ingress reaches the status service (<c>Ingress:StatusUrl</c>), for admin keys only.</summary>
public sealed class BulkForwardingTests
{
    [Fact]
    public async Task BulkOperationsAreForwardedToTheStatusServiceForAdminKeysOnly()
    {
        using var status = new StatusStandIn(_ => (200, """{"matched": 3}"""));
        await using var app = await IngressApp.StartAsync(settings: new Dictionary<string, string?> { ["Ingress:StatusUrl"] = status.Url });
        var (sendOnly, _) = await app.CreateApiKeyAsync(new { name = "sender", scopes = new[] { "send", "read" } });
        const string body = """{"filter": {"status": "scheduled"}, "dry_run": true}""";

        using var admin = app.CreateClient();
        using var forwarded = await admin.PostAsync(new Uri("/v1/bulk/cancel?x=1", UriKind.Relative), new StringContent(body, Encoding.UTF8, "application/json"));
        using var restricted = app.CreateClient(sendOnly);
        using var refused = await restricted.PostAsync(new Uri("/v1/bulk/retry", UriKind.Relative), new StringContent(body, Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.OK, forwarded.StatusCode);
        Assert.Equal("""{"matched": 3}""", await forwarded.Content.ReadAsStringAsync());
        await ProblemAssert.IsProblemAsync(refused, HttpStatusCode.Forbidden, "restricted_api_key");
        var request = Assert.Single(status.Requests);
        Assert.Equal("POST /v1/bulk/cancel?x=1", request.Line);
        Assert.Equal(body, request.Body);
        Assert.Equal("Bearer " + app.ApiKey, request.Authorization);
    }

    [Fact]
    public async Task AStatusServiceFailingUntilItsCircuitOpensIsA503NeverA500()
    {
        // 502 from the stand-in: the ingress's own 500 would be told apart. POSTs are not retried, so the resilience
        // handler's breaker sees every failure and opens after its minimum throughput (100 in 30 s).
        using var status = new StatusStandIn(_ => (502, """{"title": "bad gateway"}"""));
        await using var app = await IngressApp.StartAsync(settings: new Dictionary<string, string?> { ["Ingress:StatusUrl"] = status.Url });
        using var admin = app.CreateClient();

        var codes = new List<HttpStatusCode>();
        for (var i = 0; i < 130; i++)
        {
            using var response = await admin.PostAsync(new Uri("/v1/bulk/retry", UriKind.Relative), new StringContent("{}", Encoding.UTF8, "application/json"));
            codes.Add(response.StatusCode);
            if (response.StatusCode == HttpStatusCode.ServiceUnavailable)
            {
                await ProblemAssert.IsProblemAsync(response, HttpStatusCode.ServiceUnavailable, "service_unavailable");
                Assert.True(response.Headers.RetryAfter is not null);
            }
        }

        Assert.All(codes, c => Assert.True(c is HttpStatusCode.BadGateway or HttpStatusCode.ServiceUnavailable, c.ToString()));
        Assert.Contains(HttpStatusCode.ServiceUnavailable, codes);
    }

    [Fact]
    public async Task AForwardedBodyWhoseContentTypeIsNotAMediaTypeIs415()
    {
        using var status = new StatusStandIn(_ => (200, "{}"));
        await using var app = await IngressApp.StartAsync(settings: new Dictionary<string, string?> { ["Ingress:StatusUrl"] = status.Url });
        using var admin = app.CreateClient();
        using var content = new ByteArrayContent(Encoding.UTF8.GetBytes("{}"));
        content.Headers.TryAddWithoutValidation("Content-Type", "not a media type");

        using var response = await admin.PostAsync(new Uri("/v1/bulk/retry", UriKind.Relative), content);

        await ProblemAssert.IsProblemAsync(response, HttpStatusCode.UnsupportedMediaType, "unsupported_media_type");
        Assert.Empty(status.Requests);
    }
}
