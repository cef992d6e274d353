using System.Globalization;
using EmailPlatform.Testing;

namespace EmailPlatform.Resilience.Tests.Support;

/// <summary>
/// A PostgreSQL server of the test's own (initdb in a temporary directory, its own port), so the test can restart it
/// without touching the shared server every other test project uses at the same time. Removed on dispose.
/// </summary>
internal sealed class DedicatedPostgres : IAsyncDisposable
{
    private const string User = "postgres";
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(120);
    private static readonly Dictionary<string, string> NoEnvironment = [];

    private readonly string _directory;
    private readonly string _bin;

    private DedicatedPostgres(string directory, string bin, int port)
    {
        _directory = directory;
        _bin = bin;
        Port = port;
    }

    public int Port { get; }

    /// <summary>
    /// The superuser over TCP (trust authentication on loopback: a throwaway server). Not pooled: a pooled connection
    /// would not survive the restart, and the database is dropped through it afterwards.
    /// </summary>
    public string AdminConnectionString => $"Host=127.0.0.1;Port={Port};Username={User};Database=postgres;Timeout=5;Pooling=false";

    public static async Task<DedicatedPostgres> StartAsync()
    {
        var bin = Directory.GetDirectories("/usr/lib/postgresql").Select(d => Path.Combine(d, "bin")).Where(d => File.Exists(Path.Combine(d, "initdb")))
            .OrderByDescending(d => d, StringComparer.Ordinal).FirstOrDefault()
            ?? throw new InvalidOperationException("initdb not found under /usr/lib/postgresql/*/bin (apt-get install postgresql)");
        var directory = await Shell.OwnedDirectoryAsync("ep-fault-pg", User);
        var server = new DedicatedPostgres(directory, bin, ServiceProcess.FreeTcpPort());
        try
        {
            await Shell.RunCheckedAsync(User, NoEnvironment, Timeout, Path.Combine(bin, "initdb"),
                "-D", server.DataDirectory, "-A", "trust", "-U", User, "-E", "UTF8", "--no-sync");
            await server.StartAgainAsync();
            return server;
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    private string DataDirectory => Path.Combine(_directory, "data");

    /// <summary>A fast shutdown: connections are closed and transactions in progress rolled back.</summary>
    public Task StopAsync() =>
        Shell.RunCheckedAsync(User, NoEnvironment, Timeout, Path.Combine(_bin, "pg_ctl"), "-D", DataDirectory, "-m", "fast", "-w", "stop");

    public Task StartAgainAsync() =>
        Shell.RunCheckedAsync(User, NoEnvironment, Timeout, Path.Combine(_bin, "pg_ctl"), "-D", DataDirectory, "-l", Path.Combine(_directory, "log"), "-w",
            "-o", string.Create(CultureInfo.InvariantCulture,
                $"-p {Port} -k {_directory} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=60"), "start");

    public async ValueTask DisposeAsync()
    {
        await Shell.RunAsync(User, NoEnvironment, Timeout, Path.Combine(_bin, "pg_ctl"), "-D", DataDirectory, "-m", "immediate", "-w", "stop");
        Directory.Delete(_directory, recursive: true);
    }
}
