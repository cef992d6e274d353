using System.Net.Http.Headers;
using EmailPlatform.Testing;

namespace EmailPlatform.EndToEnd.Tests;

/// <summary>The README's run command: one process, embedded defaults, nothing else installed.</summary>
public sealed class StandaloneHostTests : IDisposable
{
    private readonly string _workingDirectory = Directory.CreateTempSubdirectory("emailplatform-standalone-").FullName;

    [Fact]
    public async Task StandaloneHostDeliversThroughItsCaptureRelayAndWritesTheEml()
    {
        var apiKey = TestInfrastructure.NewApiKey();
        var capturePort = ServiceProcess.FreeTcpPort();
        await using var host = await ServiceProcess.StartAsync("EmailPlatform.Standalone", new Dictionary<string, string?>
        {
            ["Auth__BootstrapKey"] = apiKey,
            ["Standalone__CaptureRelayPort"] = capturePort.ToString(System.Globalization.CultureInfo.InvariantCulture),
        }, _workingDirectory);
        using var client = new HttpClient { BaseAddress = host.Url };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);

        var subject = "Standalone " + Guid.NewGuid().ToString("N");
        var id = await EmailApi.SendAsync(client, new { from = "Acme <hello@acme.test>", to = "you@example.test", subject, text = "It works." });
        var email = await EmailApi.WaitForFinalStateAsync(client, id, TimeSpan.FromSeconds(60));

        Assert.True(email!["status"]!.GetValue<string>() == "delivered", host.Output);
        var delivered = email["events"]!.AsArray().Single(e => e!["type"]!.GetValue<string>() == "email.delivered");
        Assert.Equal("capture", delivered!["relay"]!.GetValue<string>());
        var mail = Path.Combine(_workingDirectory, "data", "mail");
        var eml = Assert.Single(Directory.GetFiles(mail, "*.eml"));
        Assert.Contains("Subject: " + subject, await File.ReadAllTextAsync(eml), StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(_workingDirectory, "data", "emailplatform.db")));
    }

    [Fact]
    public async Task StandaloneHostGeneratesAndPrintsAnApiKeyWhenNoneIsConfigured()
    {
        await using var host = await ServiceProcess.StartAsync("EmailPlatform.Standalone", new Dictionary<string, string?>
        {
            ["Auth__BootstrapKey"] = null,
            ["Standalone__CaptureRelayPort"] = ServiceProcess.FreeTcpPort().ToString(System.Globalization.CultureInfo.InvariantCulture),
        }, _workingDirectory);

        var key = await Eventually.GetAsync(
            () => Task.FromResult(System.Text.RegularExpressions.Regex.Match(host.Output, @"API key:\s+(\S+)").Groups[1].Value),
            k => k.Length > 0, TimeSpan.FromSeconds(10), "the API key in the welcome text");
        using var client = new HttpClient { BaseAddress = host.Url };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);

        var id = await EmailApi.SendAsync(client, new { from = "hello@acme.test", to = "you@example.test", subject = "Hi", text = "Hi." });

        var email = await EmailApi.WaitForFinalStateAsync(client, id, TimeSpan.FromSeconds(60));
        Assert.Equal("delivered", email!["status"]!.GetValue<string>());
        Assert.Equal(key, (await File.ReadAllTextAsync(Path.Combine(_workingDirectory, "data", "api-key"))).Trim());
        Assert.Contains($"curl -sS {host.Url!.ToString().TrimEnd('/')}/v1/emails", host.Output, StringComparison.Ordinal);
    }

    public void Dispose() => Directory.Delete(_workingDirectory, recursive: true);
}
