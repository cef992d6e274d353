using System.Net;
using System.Net.Http.Json;
using System.Runtime.Versioning;
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
        await StandaloneHost.WaitForStatusAsync(client, id, "delivered", TimeSpan.FromSeconds(60));
        Assert.True(File.Exists(Path.Combine(data, "emailplatform.db")));
    }

    [Fact]
    [UnsupportedOSPlatform("windows")]
    public async Task TheDataDirectoryTheHostCreatesAndTheKeyItGeneratesAreTheOwnersOnly()
    {
        var data = Path.Combine(_root, "data");
        await using var host = StandaloneHost.Create(data, "", ServiceProcess.FreeTcpPort());
        _ = host.Services;

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(data));
        var key = Path.Combine(data, "api-key");
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(key));
        Assert.StartsWith("ep_", await File.ReadAllTextAsync(key), StringComparison.Ordinal);
    }

    [Fact]
    [UnsupportedOSPlatform("windows")]
    public async Task ADataDirectoryThatExistsKeepsItsMode()
    {
        var shared = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute;
        var data = Directory.CreateDirectory(Path.Combine(_root, "data"), shared).FullName;
        File.SetUnixFileMode(data, shared);
        await using var host = StandaloneHost.Create(data, "", ServiceProcess.FreeTcpPort());
        _ = host.Services;

        Assert.Equal(shared, File.GetUnixFileMode(data));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(data, "api-key")));
    }

    private static async Task<string> SendAsync(HttpClient client, object email)
    {
        using var response = await client.PostAsJsonAsync("/v1/emails", email);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        return JsonNode.Parse(await response.Content.ReadAsStringAsync())!["id"]!.GetValue<string>();
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);
}
