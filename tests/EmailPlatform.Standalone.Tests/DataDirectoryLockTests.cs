using System.Globalization;
using EmailPlatform.Ingress.Storage;
using EmailPlatform.Testing;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace EmailPlatform.Standalone.Tests;

/// <summary>
/// One host per data directory: a second one started on it (<c>dotnet run</c> twice in the same directory) ends before it
/// migrates or recovers anything, which would take the running host's work in flight for what a stop lost.
/// </summary>
public sealed class DataDirectoryLockTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("emailplatform-lock-").FullName;
    private readonly string _apiKey = TestInfrastructure.NewApiKey();

    [Fact]
    public async Task ASecondHostOnTheSameDataDirectoryEndsWithALineNamingItAndLeavesTheFirstHostsWorkAlone()
    {
        var data = Directory.CreateDirectory(Path.Combine(_root, "data")).FullName;
        // Left by a host that was killed: the lock went with its process, the file locks nothing.
        await File.WriteAllTextAsync(Path.Combine(data, ".lock"), "");
        await using var first = StandaloneHost.Create(data, _apiKey, ServiceProcess.FreeTcpPort());
        using var client = StandaloneHost.Client(first, _apiKey);
        var onTheBus = await StandaloneHost.LeaveCommandOnTheBusAsync(first, client);
        var published = await PublishedAsync(first, onTheBus);

        // Started from the same directory, on ports of its own; its default data directory is the first host's.
        var (exitCode, output) = await StandaloneCommand.RunAsync(
            _root,
            ["--urls", $"http://127.0.0.1:{ServiceProcess.FreeTcpPort()}"],
            new Dictionary<string, string>
            {
                ["Standalone__CaptureRelayPort"] = ServiceProcess.FreeTcpPort().ToString(CultureInfo.InvariantCulture),
                ["Auth__BootstrapKey"] = _apiKey,
            },
            TimeSpan.FromSeconds(60));

        Assert.True(exitCode == 1, $"exited {exitCode}: {output}");
        Assert.EndsWith(
            $"Another standalone host is using {data}. Stop it, or set Standalone:DataDirectory to a directory of this host's own.",
            output.TrimEnd(), StringComparison.Ordinal);
        Assert.DoesNotContain("Unhandled exception", output, StringComparison.Ordinal);

        // What the first host has on its bus was published once, when it was, and the first host still sends mail.
        Assert.Equal(published, await PublishedAsync(first, onTheBus));
        await StandaloneHost.SendAndCaptureAsync(client, data, "ann@example.test");
    }

    /// <summary>When each of the email's outbox rows was published.</summary>
    private static async Task<List<DateTime?>> PublishedAsync(WebApplicationFactory<StandaloneOptions> host, Guid emailId)
    {
        using var scope = host.Services.CreateScope();
        var ingress = scope.ServiceProvider.GetRequiredService<IngressDbContext>();
        return await ingress.OutboxMessages.AsNoTracking().Where(m => m.EmailId == emailId).OrderBy(m => m.Id).Select(m => m.PublishedAt).ToListAsync();
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);
}
