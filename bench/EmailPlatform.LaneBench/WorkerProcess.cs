using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;

namespace EmailPlatform.LaneBench;

/// <summary>
/// The delivery worker under test as its own process (Release build, Production environment, logging at Warning),
/// delivering to the benchmark's sink. Stopped with SIGTERM, as Kubernetes stops it.
/// </summary>
internal sealed class WorkerProcess(BenchOptions options, int sinkPort) : IAsyncDisposable
{
    private Process? _process;

    /// <summary>CPU time (user + system) the running worker has used so far, from /proc.</summary>
    public TimeSpan CpuTime
    {
        get
        {
            var fields = File.ReadAllText($"/proc/{_process!.Id}/stat").Split(')')[1].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            // After the command name: state is field 3, utime 14 and stime 15 (1-based over the whole line).
            var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
            return TimeSpan.FromSeconds(ticks / 100.0);
        }
    }

    /// <summary>
    /// CPU time the runtime's background tier-up compiler (thread ".NET Tiered Com") has used so far: re-JIT of hot
    /// methods, which goes on for a while after start-up and is no cost of the steady state.
    /// </summary>
    public TimeSpan JitCpuTime
    {
        get
        {
            long ticks = 0;
            foreach (var task in Directory.EnumerateDirectories($"/proc/{_process!.Id}/task"))
            {
                try
                {
                    if (!File.ReadAllText(Path.Combine(task, "comm")).StartsWith(".NET Tiered", StringComparison.Ordinal))
                    {
                        continue;
                    }

                    var fields = File.ReadAllText(Path.Combine(task, "stat")).Split(')')[1].Split(' ', StringSplitOptions.RemoveEmptyEntries);
                    ticks += long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
                }
                catch (IOException)
                {
                    // The thread ended while being read.
                }
            }

            return TimeSpan.FromSeconds(ticks / 100.0);
        }
    }

    public int ProcessId => _process?.Id ?? 0;

    public async Task StartAsync()
    {
        var port = FreePort();
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(options.WorkerDll);
        start.ArgumentList.Add("--urls");
        start.ArgumentList.Add($"http://127.0.0.1:{port}");
        var env = start.Environment;
        env["ConnectionStrings__RabbitMq"] = options.Broker.ToString();
        env["ConnectionStrings__Postgres"] = options.Postgres;
        env["Auth__BootstrapKey"] = "lanebench_" + Guid.NewGuid().ToString("N");
        env["Delivery__Relays__0__Name"] = "sink";
        env["Delivery__Relays__0__Host"] = "127.0.0.1";
        env["Delivery__Relays__0__Port"] = sinkPort.ToString(CultureInfo.InvariantCulture);
        env["Delivery__Relays__0__Security"] = "None";
        env["Delivery__Relays__0__MaxConnections"] = options.Connections.ToString(CultureInfo.InvariantCulture);
        env["DOTNET_ENVIRONMENT"] = "Production";
        env["ASPNETCORE_ENVIRONMENT"] = "Production";
        env["Logging__LogLevel__Default"] = "Warning";
        env.Remove("OTEL_EXPORTER_OTLP_ENDPOINT");
        foreach (var (key, value) in Environment.GetEnvironmentVariables().Cast<System.Collections.DictionaryEntry>()
                     .Where(e => ((string)e.Key).StartsWith("Delivery__", StringComparison.Ordinal)))
        {
            env[(string)key] = (string?)value;
        }

        _process = Process.Start(start)!;
        _process.OutputDataReceived += (_, e) => Forward(e.Data);
        _process.ErrorDataReceived += (_, e) => Forward(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();

        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        var deadline = DateTime.UtcNow.AddMinutes(2);
        while (DateTime.UtcNow < deadline)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"The worker exited while starting ({_process.ExitCode}).");
            }

            try
            {
                if ((await http.GetAsync($"http://127.0.0.1:{port}/health/ready")).IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
            {
                // Not listening yet.
            }

            await Task.Delay(250);
        }

        throw new TimeoutException("The worker was not ready within 2 minutes.");
    }

    public async Task StopAsync()
    {
        if (_process is null || _process.HasExited)
        {
            return;
        }

        using (var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(CultureInfo.InvariantCulture)]))
        {
            await kill.WaitForExitAsync();
        }

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            await _process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            _process.Kill(entireProcessTree: true);
        }

        _process.Dispose();
        _process = null;
    }

    public async ValueTask DisposeAsync() => await StopAsync();

    private static void Forward(string? line)
    {
        if (line is not null)
        {
            Console.Error.WriteLine($"[worker] {line}");
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
    }
}
