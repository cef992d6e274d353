using EmailPlatform.Testing;

namespace EmailPlatform.EndToEnd.Tests;

/// <summary>
/// The images have no shell or curl, so their container health check is the service's own
/// <c>healthcheck</c> command (Dockerfile <c>HEALTHCHECK</c>, docker-compose.yml): it must say 0 for a ready host and 1
/// when nothing answers.
/// </summary>
public sealed class HealthcheckCommandTests
{
    [Fact]
    public async Task EachServicesHealthcheckCommandPassesAgainstItsRunningHostAndFailsWithoutOne()
    {
        await using var relay = await ScriptedSmtpServer.StartAsync();
        await using var platform = await DistributedPlatform.StartAsync("127.0.0.1", relay.Port);
        var nothing = new Uri($"http://127.0.0.1:{ServiceProcess.FreeTcpPort()}/health/ready");

        foreach (var service in new[] { platform.Ingress, platform.Delivery, platform.Status })
        {
            var ready = await Eventually.GetAsync(
                () => ServiceProcess.RunAsync(service.Name, new Dictionary<string, string?>(), "healthcheck", new Uri(service.Url!, "/health/ready").ToString()),
                r => r.ExitCode == 0, TimeSpan.FromSeconds(60), $"{service.Name} healthcheck to pass");
            Assert.Contains("200", ready.Output, StringComparison.Ordinal);

            var (exitCode, output) = await ServiceProcess.RunAsync(service.Name, new Dictionary<string, string?>(), "healthcheck", nothing.ToString());
            Assert.True(exitCode == 1, $"{service.Name} healthcheck against nothing exited {exitCode}: {output}");
        }
    }
}
