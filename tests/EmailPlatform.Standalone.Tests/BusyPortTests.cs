using System.Globalization;
using System.Net;
using System.Net.Sockets;
using EmailPlatform.Testing;
using Microsoft.Data.Sqlite;

namespace EmailPlatform.Standalone.Tests;

/// <summary>
/// A first run on a laptop where the API's port or the capture relay's is taken: the host ends at once with exit code 1
/// and a line naming what moves it elsewhere, not an unhandled exception, and before it creates or changes its store.
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
        Assert.False(File.Exists(Path.Combine(_root, "data", "emailplatform.db")));
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
        Assert.False(File.Exists(Path.Combine(_root, "data", "emailplatform.db")));
    }

    [Theory]
    [InlineData("api")]
    [InlineData("capture relay")]
    public async Task APortInUseEndsTheHostBeforeItMigratesOrRecoversTheStoreOfTheLastRun(string port)
    {
        // The last run stopped with a command on its in-memory bus: a start that gets as far as its recovery publishes it
        // again, and one that then fails on its port leaves it claimed by a publisher that is gone.
        var data = Path.Combine(_root, "data");
        var apiKey = TestInfrastructure.NewApiKey();
        await using (var last = StandaloneHost.Create(data, apiKey, ServiceProcess.FreeTcpPort()))
        {
            using var client = StandaloneHost.Client(last, apiKey);
            await StandaloneHost.LeaveCommandOnTheBusAsync(last, client);
        }

        var before = Rows(data);
        using var taken = Take();
        var (exitCode, output) = port == "api"
            ? await RunAsync(apiPort: Port(taken), relayPort: ServiceProcess.FreeTcpPort(), apiKey)
            : await RunAsync(apiPort: ServiceProcess.FreeTcpPort(), relayPort: Port(taken), apiKey);

        Assert.True(exitCode == 1, $"exited {exitCode}: {output}");
        Assert.StartsWith(port == "api" ? "Failed to bind to address" : "The capture relay cannot listen", output.TrimEnd().Split('\n')[^1], StringComparison.Ordinal);
        Assert.Equal(before, Rows(data));
    }

    /// <summary>A port on 127.0.0.1 that something else listens on.</summary>
    private static TcpListener Take()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return listener;
    }

    private static int Port(TcpListener listener) => ((IPEndPoint)listener.LocalEndpoint).Port;

    /// <summary>
    /// Starts the host in <c>_root</c> (from an empty directory, as a first run does, unless a test made <c>data/</c>);
    /// it should not get as far as serving.
    /// </summary>
    private Task<(int ExitCode, string Output)> RunAsync(int apiPort, int relayPort, string? apiKey = null)
    {
        var environment = new Dictionary<string, string> { ["Standalone__CaptureRelayPort"] = relayPort.ToString(CultureInfo.InvariantCulture) };
        if (apiKey is not null)
        {
            environment["Auth__BootstrapKey"] = apiKey;
        }

        return StandaloneCommand.RunAsync(_root, ["--urls", $"http://127.0.0.1:{apiPort}"], environment, TimeSpan.FromSeconds(90));
    }

    /// <summary>Every row of every table of the database in <paramref name="data"/>, as text.</summary>
    private static List<string> Rows(string data)
    {
        using var connection = StoreFile.Open(data, SqliteOpenMode.ReadOnly);
        var rows = new List<string>();
        foreach (var table in StoreFile.Query(connection, "SELECT name FROM sqlite_master WHERE type = 'table'", r => r.GetString(0)))
        {
            rows.AddRange(StoreFile.Query(connection, $"SELECT * FROM \"{table}\"", r => table + ": " + string.Join(" | ", Enumerable.Range(0, r.FieldCount).Select(i =>
                r.IsDBNull(i) ? "null" : r.GetValue(i) is byte[] bytes ? Convert.ToHexString(bytes) : Convert.ToString(r.GetValue(i), CultureInfo.InvariantCulture)))));
        }

        rows.Sort(StringComparer.Ordinal);
        return rows;
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);
}
