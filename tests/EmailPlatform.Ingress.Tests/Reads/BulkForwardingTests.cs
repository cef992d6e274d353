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
}
