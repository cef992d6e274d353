using EmailPlatform.Testing;

namespace EmailPlatform.Standalone.Tests;

/// <summary>The standalone host's OpenAPI document, and the reference at <c>/docs</c> that reads it, cover the whole platform.</summary>
public sealed class OpenApiTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("emailplatform-openapi-").FullName;
    private readonly string _apiKey = TestInfrastructure.NewApiKey();

    [Fact]
    public async Task DocumentDescribesTheIngressTheStatusServiceAndTheRelays()
    {
        await using var host = StandaloneHost.Create(Path.Combine(_root, "data"), _apiKey, ServiceProcess.FreeTcpPort());
        using var client = StandaloneHost.Client(host, _apiKey);

        var document = await OpenApiDocument.GetAsync(client);

        foreach (var path in new[] { "/v1/emails", "/v1/emails/{id}", "/v1/bounces", "/v1/complaints", "/v1/webhooks", "/v1/suppressions/{address}", "/v1/relays" })
        {
            Assert.True(document.GetProperty("paths").TryGetProperty(path, out _), $"no {path} in the standalone host's document");
        }
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);
}
