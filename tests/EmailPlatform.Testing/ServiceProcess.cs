using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Reflection;

namespace EmailPlatform.Testing;

/// <summary>
/// One of the platform's hosts started as a real process from its build output (<c>dotnet X.dll</c>), the way
/// it runs in production, with its configuration in environment variables. Output is kept for failure
/// messages; the process is killed on dispose.
/// </summary>
public sealed class ServiceProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _output = new();

    private ServiceProcess(string name, Process process, Uri? url)
    {
        Name = name;
        _process = process;
        Url = url;
        process.OutputDataReceived += (_, e) => Keep(e.Data);
        process.ErrorDataReceived += (_, e) => Keep(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public string Name { get; }

    public Uri? Url { get; }

    public string Output => string.Join(Environment.NewLine, _output);

    public bool HasExited => _process.HasExited;

    /// <summary>The operating system's id of the process: for signals and for its memory in <c>/proc</c>.</summary>
    public int ProcessId => _process.Id;

    /// <summary>The process's exit code, once it has exited.</summary>
    public int ExitCode => _process.ExitCode;

    /// <summary>
    /// SIGTERM, as Kubernetes, compose and systemd stop a container: the host's graceful stop begins. Returns once the
    /// signal is sent; <see cref="WaitForExitAsync"/> waits for the process to end.
    /// </summary>
    public async Task TerminateAsync()
    {
        using var kill = Process.Start(new ProcessStartInfo("kill", ["-TERM", ProcessId.ToString(CultureInfo.InvariantCulture)]))!;
        await kill.WaitForExitAsync();
        if (kill.ExitCode != 0 && !HasExited)
        {
            throw new InvalidOperationException($"kill -TERM {ProcessId} failed ({kill.ExitCode}).");
        }
    }

    /// <summary>Waits for the process to exit, <paramref name="timeout"/> at most: false if it is still running then.</summary>
    public async Task<bool> WaitForExitAsync(TimeSpan timeout)
    {
        using var wait = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(wait.Token);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    /// <summary>Starts a host on a free loopback port and waits until <c>/health/live</c> answers.</summary>
    public static async Task<ServiceProcess> StartAsync(
        string project, IDictionary<string, string?> environment, string? workingDirectory = null, params string[] args)
    {
        var url = new Uri($"http://127.0.0.1:{FreeTcpPort()}");
        return await StartAtAsync(project, url, environment, workingDirectory, args);
    }

    /// <summary>
    /// Starts a host on a given URL and waits until <c>/health/live</c> answers: a host restarted at the URL the
    /// others were configured with.
    /// </summary>
    public static async Task<ServiceProcess> StartAtAsync(
        string project, Uri url, IDictionary<string, string?> environment, string? workingDirectory = null, params string[] args)
    {
        var env = new Dictionary<string, string?>(environment) { ["ASPNETCORE_URLS"] = url.ToString() };
        var service = Start(project, env, workingDirectory, url, args);
        await service.WaitUntilLiveAsync(TimeSpan.FromSeconds(60));
        return service;
    }

    /// <summary>Runs a host's one-shot command (such as <c>migrate</c>) to completion.</summary>
    public static async Task RunToCompletionAsync(string project, IDictionary<string, string?> environment, params string[] args)
    {
        await using var service = Start(project, environment, null, null, args);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        await service._process.WaitForExitAsync(timeout.Token);
        if (service._process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{project} {string.Join(' ', args)} exited with {service._process.ExitCode}:{Environment.NewLine}{service.Output}");
        }
    }

    /// <summary>Runs a host's one-shot command to completion and returns its exit code and output, whatever they are.</summary>
    public static async Task<(int ExitCode, string Output)> RunAsync(string project, IDictionary<string, string?> environment, params string[] args)
    {
        await using var service = Start(project, environment, null, null, args);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        await service._process.WaitForExitAsync(timeout.Token);
        return (service._process.ExitCode, service.Output);
    }

    public static int FreeTcpPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        _process.Dispose();
    }

    private static ServiceProcess Start(
        string project, IDictionary<string, string?> environment, string? workingDirectory, Uri? url, string[] args)
    {
        var dll = BuildOutput(project);
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = workingDirectory ?? Path.GetDirectoryName(dll)!,
        };
        start.ArgumentList.Add(dll);
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        start.Environment["DOTNET_ENVIRONMENT"] = "Production";
        start.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        start.Environment.Remove("OTEL_EXPORTER_OTLP_ENDPOINT");
        if (project == "EmailPlatform.Status")
        {
            // As its image sets it (ENV in its Dockerfile): the load benchmark measures the service as deployed.
            start.Environment.TryAdd("DOTNET_GCgen0size", "0x1000000");
        }

        foreach (var (key, value) in environment)
        {
            start.Environment[key] = value;
        }

        return new ServiceProcess(project, Process.Start(start)!, url);
    }

    private async Task WaitUntilLiveAsync(TimeSpan timeout)
    {
        using var http = new HttpClient { BaseAddress = Url, Timeout = TimeSpan.FromSeconds(2) };
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"{Name} exited with {_process.ExitCode} while starting:{Environment.NewLine}{Output}");
            }

            try
            {
                using var response = await http.GetAsync(new Uri("/health/live", UriKind.Relative));
                if (response.IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
            }
            catch (TaskCanceledException)
            {
            }

            await Task.Delay(200);
        }

        throw new TimeoutException($"{Name} did not become live within {timeout}:{Environment.NewLine}{Output}");
    }

    private void Keep(string? line)
    {
        if (line is null)
        {
            return;
        }

        _output.Enqueue(line);
        while (_output.Count > 2000 && _output.TryDequeue(out _))
        {
        }
    }

    /// <summary>The host's dll, built in the same configuration as the running tests.</summary>
    private static string BuildOutput(string project)
    {
        var configuration = typeof(ServiceProcess).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Debug";
        var dll = Path.Combine(RepositoryRoot(), "services", project, "bin", configuration, "net10.0", project + ".dll");
        return File.Exists(dll) ? dll : throw new FileNotFoundException($"Build {project} first: {dll} is missing.", dll);
    }

    public static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "EmailPlatform.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("EmailPlatform.sln not found above " + AppContext.BaseDirectory);
    }
}
