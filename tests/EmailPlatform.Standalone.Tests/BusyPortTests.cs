using System.Globalization;
using System.Net;
using System.Net.Sockets;
using EmailPlatform.Testing;

namespace EmailPlatform.Standalone.Tests;

/// <summary>
/// A first run on a laptop where the API's port or the capture relay's is taken: the host ends at once with exit code 1
/// and a line naming what moves it elsewhere, not an unhandled exception.
/// </summary>
public sealed class BusyPortTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("emailplatform-busy-").FullName;

    [Fact]
    public async Task AnApiPortInUseEndsTheHostWithALineNamingUrls()
    {
        using var taken = Take();
        var (exitCode, output) = await RunAsync(apiPort: Port(taken), relayPort: ServiceProcess.FreeTcpPort());

        Assert.True(exitCode == 1, $"exited {exitCode}: {output}");
        Assert.EndsWith(
            $"Failed to bind to address http://127.0.0.1:{Port(taken)}: address already in use. Stop what listens there, or listen elsewhere with --urls " +
            "(--urls http://localhost:8099) or ASPNETCORE_URLS.", output.TrimEnd(), StringComparison.Ordinal);
        Assert.DoesNotContain("Unhandled exception", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ACaptureRelayPortInUseEndsTheHostWithALineNamingItsSetting()
    {
        using var taken = Take();
        var (exitCode, output) = await RunAsync(apiPort: ServiceProcess.FreeTcpPort(), relayPort: Port(taken));

        Assert.True(exitCode == 1, $"exited {exitCode}: {output}");
        Assert.Matches(
            $@"The capture relay cannot listen on 127\.0\.0\.1:{Port(taken)} \(.+\)\. Set Standalone:CaptureRelayPort to a free port\.$", output.TrimEnd());
        Assert.DoesNotContain("Unhandled exception", output, StringComparison.Ordinal);
    }

    /// <summary>A port on 127.0.0.1 that something else listens on.</summary>
    private static TcpListener Take()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return listener;
    }

    private static int Port(TcpListener listener) => ((IPEndPoint)listener.LocalEndpoint).Port;

    /// <summary>Starts the host from an empty directory, as a first run does; it should not get as far as serving.</summary>
    private Task<(int ExitCode, string Output)> RunAsync(int apiPort, int relayPort) =>
        StandaloneCommand.RunAsync(
            _root,
            ["--urls", $"http://127.0.0.1:{apiPort}"],
            new Dictionary<string, string> { ["Standalone__CaptureRelayPort"] = relayPort.ToString(CultureInfo.InvariantCulture) },
            TimeSpan.FromSeconds(90));

    public void Dispose() => Directory.Delete(_root, recursive: true);
}
