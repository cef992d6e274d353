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
    public async Task AStatusServiceFailingManyTimesDoesNotTurnLaterRequestsInto503s()
    {
        // 502 from the stand-in: the ingress's own 500 or 503 would be told apart. The standard resilience handler's
        // circuit breaker, which the forwarding client no longer has, opened after 100 failures in 30 s and then answered
        // 503 for every forwarded request, reads included, whatever the status service would have said.
        var failing = true;
        using var status = new StatusStandIn(_ => Volatile.Read(ref failing) ? (502, """{"title": "bad gateway"}""") : (200, """{"matched": 3}"""));
        await using var app = await IngressApp.StartAsync(settings: new Dictionary<string, string?> { ["Ingress:StatusUrl"] = status.Url });
        using var admin = app.CreateClient();

        var codes = new List<HttpStatusCode>();
        for (var i = 0; i < 130; i++)
        {
            using var response = await admin.PostAsync(new Uri("/v1/bulk/retry", UriKind.Relative), new StringContent("{}", Encoding.UTF8, "application/json"));
            codes.Add(response.StatusCode);
        }

        Volatile.Write(ref failing, false);
        using var recovered = await admin.PostAsync(new Uri("/v1/bulk/retry", UriKind.Relative), new StringContent("{}", Encoding.UTF8, "application/json"));

        Assert.All(codes, c => Assert.Equal(HttpStatusCode.BadGateway, c));
        Assert.Equal(HttpStatusCode.OK, recovered.StatusCode);
        Assert.Equal(131, status.Requests.Count);
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
