using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using EmailPlatform.Testing;

namespace EmailPlatform.Standalone.Tests;

/// <summary>
/// <c>GET /v1/relays</c> needs the admin scope. The standalone host resolves every API key the ingress issues, so the
/// route's own scope is what keeps a send-only key from reading the relays' hosts, ports and limits.
/// </summary>
public sealed class RelayScopeTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("emailplatform-data-").FullName;
    private readonly string _apiKey = TestInfrastructure.NewApiKey();

    [Fact]
    public async Task RelaysAreListedForAdminKeysOnly()
    {
        await using var host = StandaloneHost.Create(_root, _apiKey, ServiceProcess.FreeTcpPort());
        using var admin = StandaloneHost.Client(host, _apiKey);
        using var created = await admin.PostAsJsonAsync(new Uri("/v1/api-keys", UriKind.Relative), new { name = "sender", scopes = new[] { "send", "read" } });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var token = (await created.Content.ReadFromJsonAsync<JsonObject>())!["token"]!.GetValue<string>();
        using var sender = StandaloneHost.Client(host, token);

        using var listed = await admin.GetAsync(new Uri("/v1/relays", UriKind.Relative));
        using var refused = await sender.GetAsync(new Uri("/v1/relays", UriKind.Relative));

        Assert.Equal(HttpStatusCode.OK, listed.StatusCode);
        await ProblemAssert.IsProblemAsync(refused, HttpStatusCode.Forbidden, "restricted_api_key");
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);
}
