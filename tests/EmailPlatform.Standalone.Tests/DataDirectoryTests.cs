using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using EmailPlatform.Testing;

namespace EmailPlatform.Standalone.Tests;

/// <summary>The standalone host's data directory, wherever it is.</summary>
public sealed class DataDirectoryTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("emailplatform-data-").FullName;
    private readonly string _apiKey = TestInfrastructure.NewApiKey();

    [Fact]
    public async Task ADataDirectoryWithASemicolonInItsPathIsUsedAsIs()
    {
        var data = Directory.CreateDirectory(Path.Combine(_root, "mail;data=here")).FullName;
        await using var host = StandaloneHost.Create(data, _apiKey, ServiceProcess.FreeTcpPort());
        using var client = StandaloneHost.Client(host, _apiKey);

        var id = await SendAsync(client, new { from = "hello@acme.test", to = "you@example.test", subject = "Semicolon", text = "Hi." });
        await StandaloneHost.WaitForStatusAsync(client, id, "delivered", TimeSpan.FromSeconds(20));
        Assert.True(File.Exists(Path.Combine(data, "emailplatform.db")));
    }

    private static async Task<string> SendAsync(HttpClient client, object email)
    {
        using var response = await client.PostAsJsonAsync("/v1/emails", email);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        return JsonNode.Parse(await response.Content.ReadAsStringAsync())!["id"]!.GetValue<string>();
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);
}
