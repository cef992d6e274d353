using System.Net;
using System.Net.Http.Json;
using EmailPlatform.Testing;
using Microsoft.AspNetCore.Hosting;

namespace EmailPlatform.Standalone.Tests;

/// <summary>
/// On a laptop the webhook receiver being tried runs on the same machine: the standalone host allows private and
/// loopback targets unless told otherwise, and a host told otherwise says how to allow them.
/// </summary>
public sealed class WebhookTargetTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("emailplatform-data-").FullName;
    private readonly string _apiKey = TestInfrastructure.NewApiKey();

    [Fact]
    public async Task ALoopbackReceiverIsAllowedByDefaultAndRefusedWithTheSettingNamedWhenTurnedOff()
    {
        var webhook = new { url = "http://127.0.0.1:9/hooks", events = new[] { "email.delivered" } };
        await using (var host = StandaloneHost.Create(_root, _apiKey, ServiceProcess.FreeTcpPort()))
        {
            using var admin = StandaloneHost.Client(host, _apiKey);
            using var created = await admin.PostAsJsonAsync(new Uri("/v1/webhooks", UriKind.Relative), webhook);
            Assert.True(created.StatusCode == HttpStatusCode.Created, await created.Content.ReadAsStringAsync());
        }

        await using (var host = StandaloneHost.Create(_root, _apiKey, ServiceProcess.FreeTcpPort(),
            web => web.UseSetting("Webhooks:AllowPrivateTargets", "false")))
        {
            using var admin = StandaloneHost.Client(host, _apiKey);
            using var refused = await admin.PostAsJsonAsync(new Uri("/v1/webhooks", UriKind.Relative), webhook);
            var problem = await ProblemAssert.IsValidationProblemAsync(refused, "validation_error", "url");
            Assert.Contains("Webhooks__AllowPrivateTargets=true", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        }
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);
}
