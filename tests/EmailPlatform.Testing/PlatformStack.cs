using System.Globalization;
using System.Net.Http.Headers;

namespace EmailPlatform.Testing;

/// <summary>What a <see cref="PlatformStack"/> runs on and how its services are configured.</summary>
public sealed record PlatformStackOptions
{
    /// <summary>The upstream relay every worker delivers to.</summary>
    public required string RelayHost { get; init; }

    public required int RelayPort { get; init; }

    /// <summary>Connections each worker opens to the relay (<c>Delivery:Relays:0:MaxConnections</c>).</summary>
    public int RelayConnections { get; init; } = 4;

    /// <summary>A PostgreSQL connection string with CREATEDB; null: <see cref="TestInfrastructure.PostgresAdmin"/>.</summary>
    public string? PostgresAdmin { get; init; }

    /// <summary>A RabbitMQ URI whose user may use the default virtual host; null: a temporary vhost on the shared broker.</summary>
    public Uri? RabbitMq { get; init; }

    /// <summary>Settings for every service, as environment variables (<c>Delivery__RetrySchedule__0</c>, …).</summary>
    public IReadOnlyDictionary<string, string?> Environment { get; init; } = new Dictionary<string, string?>();

    /// <summary>
    /// Each service's PostgreSQL connection pool. The server's <c>max_connections</c> (100 by default) is shared by
    /// everything on the machine, so the services must not take Npgsql's default of 100 each.
    /// </summary>
    public int MaxPoolSize { get; init; } = 10;

    /// <summary>Called with each process it starts or stops (the benchmark records them for its cleanup).</summary>
    public Action<string, int, bool>? OnProcess { get; init; }
}

/// <summary>
/// The three services of the distributed mode as separate processes on a database and a RabbitMQ virtual host of
/// their own, with any number of delivery workers, each of which can be started, stopped gracefully (SIGTERM) or
/// killed (SIGKILL) while the others run. The ingress and the status service have fixed URLs chosen at creation, so
/// one restarted keeps the address the others were configured with.
/// </summary>
public sealed class PlatformStack : IAsyncDisposable
{
    private readonly PlatformStackOptions _options;
    private readonly List<IAsyncDisposable> _owned = [];
    private readonly Dictionary<string, string?> _shared;
    private readonly List<ServiceProcess> _stopped = [];

    private PlatformStack(PlatformStackOptions options, string apiKey, string connectionString, Uri broker)
    {
        _options = options;
        ApiKey = apiKey;
        ConnectionString = connectionString;
        BrokerUri = broker;
        IngressUrl = new Uri($"http://127.0.0.1:{ServiceProcess.FreeTcpPort()}");
        StatusUrl = new Uri($"http://127.0.0.1:{ServiceProcess.FreeTcpPort()}");
        _shared = new Dictionary<string, string?>
        {
            ["ConnectionStrings__Postgres"] = connectionString,
            ["ConnectionStrings__RabbitMq"] = broker.ToString(),
            ["Auth__BootstrapKey"] = apiKey,
            ["Ingress__StatusUrl"] = StatusUrl.ToString(),
            ["Delivery__StatusUrl"] = StatusUrl.ToString(),
            ["Delivery__Relays__0__Name"] = "relay",
            ["Delivery__Relays__0__Host"] = options.RelayHost,
            ["Delivery__Relays__0__Port"] = options.RelayPort.ToString(CultureInfo.InvariantCulture),
            ["Delivery__Relays__0__Security"] = "None",
            ["Delivery__Relays__0__MaxConnections"] = options.RelayConnections.ToString(CultureInfo.InvariantCulture),
        };
        foreach (var (key, value) in options.Environment)
        {
            _shared[key] = value;
        }
    }

    public string ApiKey { get; }

    /// <summary>The one database all three services use (each its own tables), for assertions in SQL.</summary>
    public string ConnectionString { get; }

    public Uri BrokerUri { get; }

    /// <summary>The RabbitMQ virtual host's name ("/" on a dedicated broker).</summary>
    public string VirtualHost => Uri.UnescapeDataString(BrokerUri.AbsolutePath.TrimStart('/')) is { Length: > 0 } name ? name : "/";

    public Uri IngressUrl { get; }

    public Uri StatusUrl { get; }

    public ServiceProcess? Ingress { get; private set; }

    public ServiceProcess? Status { get; private set; }

    /// <summary>Worker slots: a stopped or killed worker leaves null until it is started again.</summary>
    public List<ServiceProcess?> Workers { get; } = [];

    /// <summary>Creates the database and virtual host and runs every service's <c>migrate</c>; starts nothing.</summary>
    public static async Task<PlatformStack> CreateAsync(PlatformStackOptions options)
    {
        var owned = new List<IAsyncDisposable>();
        try
        {
            var database = await TemporaryDatabase.CreateAsync(options.PostgresAdmin ?? TestInfrastructure.PostgresAdmin);
            owned.Add(database);
            var connectionString = new Npgsql.NpgsqlConnectionStringBuilder(database.ConnectionString)
            {
                Pooling = true,
                MaxPoolSize = options.MaxPoolSize,
            }.ConnectionString;

            Uri broker;
            if (options.RabbitMq is null)
            {
                var vhost = await TemporaryVirtualHost.CreateAsync();
                owned.Add(vhost);
                broker = vhost.Uri;
            }
            else
            {
                broker = options.RabbitMq;
            }

            var stack = new PlatformStack(options, TestInfrastructure.NewApiKey(), connectionString, broker);
            stack._owned.AddRange(owned);
            await Task.WhenAll(
                ServiceProcess.RunToCompletionAsync("EmailPlatform.Ingress", stack._shared, "migrate"),
                ServiceProcess.RunToCompletionAsync("EmailPlatform.Status", stack._shared, "migrate"),
                ServiceProcess.RunToCompletionAsync("EmailPlatform.Delivery", stack._shared, "migrate"));
            return stack;
        }
        catch
        {
            foreach (var resource in Enumerable.Reverse(owned))
            {
                await resource.DisposeAsync();
            }

            throw;
        }
    }

    /// <summary>Status service, <paramref name="workers"/> workers, then the ingress: the order a deployment settles in.</summary>
    public async Task StartAllAsync(int workers)
    {
        await StartStatusAsync();
        await Task.WhenAll(Enumerable.Range(0, workers).Select(StartWorkerAsync));
        await StartIngressAsync();
    }

    public async Task StartStatusAsync() =>
        Status = await StartAsync("EmailPlatform.Status", StatusUrl);

    public async Task StartIngressAsync() =>
        Ingress = await StartAsync("EmailPlatform.Ingress", IngressUrl);

    /// <summary>Starts worker <paramref name="index"/> (a slot is added when needed) on a port of its own.</summary>
    public async Task StartWorkerAsync(int index)
    {
        lock (Workers)
        {
            while (Workers.Count <= index)
            {
                Workers.Add(null);
            }
        }

        var worker = await StartAsync("EmailPlatform.Delivery", new Uri($"http://127.0.0.1:{ServiceProcess.FreeTcpPort()}"));
        lock (Workers)
        {
            Workers[index] = worker;
        }
    }

    /// <summary><c>kill -9</c>: no shutdown code runs, whatever the worker was doing is cut off.</summary>
    public async Task KillWorkerAsync(int index)
    {
        var worker = Workers[index] ?? throw new InvalidOperationException($"Worker {index} is not running.");
        Workers[index] = null;
        await StopAsync(worker, graceful: false);
    }

    /// <summary>SIGTERM, then the worker's own graceful drain, waited for up to <paramref name="grace"/>.</summary>
    public async Task StopWorkerAsync(int index, TimeSpan grace)
    {
        var worker = Workers[index] ?? throw new InvalidOperationException($"Worker {index} is not running.");
        Workers[index] = null;
        await StopAsync(worker, graceful: true, grace);
    }

    public async Task StopStatusAsync(bool graceful = true)
    {
        var status = Status ?? throw new InvalidOperationException("The status service is not running.");
        Status = null;
        await StopAsync(status, graceful);
    }

    public async Task StopIngressAsync(bool graceful = true)
    {
        var ingress = Ingress ?? throw new InvalidOperationException("The ingress is not running.");
        Ingress = null;
        await StopAsync(ingress, graceful);
    }

    public HttpClient CreateClient(string? apiKey = null)
    {
        var client = new HttpClient(new SocketsHttpHandler { UseProxy = false, MaxConnectionsPerServer = 256 })
        {
            BaseAddress = IngressUrl,
            Timeout = TimeSpan.FromSeconds(60),
        };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", apiKey ?? ApiKey);
        return client;
    }

    /// <summary>Everything the running and stopped services printed, for a failing assertion's message.</summary>
    public string Logs
    {
        get
        {
            var all = new[] { Ingress, Status }.Concat(Workers).Concat(_stopped).OfType<ServiceProcess>();
            return string.Join(System.Environment.NewLine + "----" + System.Environment.NewLine,
                all.Select(s => $"[{s.Name}]{System.Environment.NewLine}{Tail(s.Output, 60)}"));
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var service in new[] { Ingress, Status }.Concat(Workers).OfType<ServiceProcess>().ToList())
        {
            await StopAsync(service, graceful: false);
        }

        for (var i = _owned.Count - 1; i >= 0; i--)
        {
            await _owned[i].DisposeAsync();
        }
    }

    /// <summary>Peak resident memory (<c>VmHWM</c>) of a running process in MB; null once it has exited.</summary>
    public static double? PeakRssMegabytes(ServiceProcess service) => ReadStatusKb(service.ProcessId, "VmHWM") / 1024.0;

    private async Task<ServiceProcess> StartAsync(string project, Uri url)
    {
        var service = await ServiceProcess.StartAtAsync(project, url, _shared);
        _options.OnProcess?.Invoke(project, service.ProcessId, true);
        return service;
    }

    private async Task StopAsync(ServiceProcess service, bool graceful, TimeSpan? grace = null)
    {
        if (graceful && !service.HasExited)
        {
            await service.TerminateAsync();
            await service.WaitForExitAsync(grace ?? TimeSpan.FromSeconds(30));
        }

        var pid = service.ProcessId;
        _stopped.Add(service);
        await service.DisposeAsync();
        _options.OnProcess?.Invoke(service.Name, pid, false);
    }

    private static long? ReadStatusKb(int pid, string key)
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            {
                if (line.StartsWith(key + ":", StringComparison.Ordinal))
                {
                    return long.Parse(line[(key.Length + 1)..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
                }
            }
        }
        catch (IOException)
        {
        }

        return null;
    }

    private static string Tail(string text, int lines)
    {
        var all = text.Split(System.Environment.NewLine);
        return string.Join(System.Environment.NewLine, all.Skip(Math.Max(0, all.Length - lines)));
    }
}
