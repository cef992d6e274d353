using System.Net.Http.Headers;
using EmailPlatform.Testing;

namespace EmailPlatform.EndToEnd.Tests;

/// <summary>
/// The three services as separate processes in distributed mode, on a PostgreSQL database and a RabbitMQ
/// virtual host of their own, delivering to the given SMTP relay. Migrations run first as the explicit
/// <c>migrate</c> step a deployment runs. The status service starts first, or, with <c>withoutStatus</c>, only when
/// <see cref="StartStatusAsync"/> is called (the ingress and the workers then do without it, as they do while it is down).
/// </summary>
internal sealed class DistributedPlatform : IAsyncDisposable
{
    private readonly List<IAsyncDisposable> _owned = [];
    private Dictionary<string, string?> _shared = [];
    private Dictionary<string, string?> _status = [];

    private DistributedPlatform(string apiKey) => ApiKey = apiKey;

    public string ApiKey { get; }

    public TemporaryDatabase Database { get; private set; } = null!;

    /// <summary>The platform's own RabbitMQ virtual host.</summary>
    public Uri Broker { get; private set; } = null!;

    public ServiceProcess Ingress { get; private set; } = null!;

    public ServiceProcess Delivery { get; private set; } = null!;

    public ServiceProcess Status { get; private set; } = null!;

    /// <param name="ingress">Settings of the ingress alone, on top of the shared ones (environment variable names).</param>
    /// <param name="status">Settings of the status service alone.</param>
    public static async Task<DistributedPlatform> StartAsync(
        string relayHost, int relayPort, bool withoutStatus = false,
        IReadOnlyDictionary<string, string?>? ingress = null, IReadOnlyDictionary<string, string?>? status = null,
        IReadOnlyDictionary<string, string?>? delivery = null)
    {
        var platform = new DistributedPlatform(TestInfrastructure.NewApiKey());
        try
        {
            await platform.StartServicesAsync(
                relayHost, relayPort, withoutStatus, ingress ?? new Dictionary<string, string?>(), status ?? new Dictionary<string, string?>(),
                delivery ?? new Dictionary<string, string?>());
            return platform;
        }
        catch
        {
            await platform.DisposeAsync();
            throw;
        }
    }

    public HttpClient CreateClient()
    {
        var client = new HttpClient { BaseAddress = Ingress.Url, Timeout = TimeSpan.FromSeconds(30) };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", ApiKey);
        return client;
    }

    /// <summary>Everything the services printed, for a failing assertion's message.</summary>
    public string Logs => string.Join(Environment.NewLine + "----" + Environment.NewLine,
        new[] { Ingress, Delivery, Status }.Where(s => s is not null).Select(s => $"[{s.Name}]{Environment.NewLine}{s.Output}"));

    public async ValueTask DisposeAsync()
    {
        for (var i = _owned.Count - 1; i >= 0; i--)
        {
            await _owned[i].DisposeAsync();
        }
    }

    /// <summary>Starts the status service of a platform started without it.</summary>
    public async Task StartStatusAsync() => Status = Own(await ServiceProcess.StartAsync("EmailPlatform.Status", _status));

    /// <summary>A client of the status service's own API (with the bootstrap key).</summary>
    public HttpClient CreateStatusClient()
    {
        var client = new HttpClient { BaseAddress = Status.Url, Timeout = TimeSpan.FromSeconds(30) };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", ApiKey);
        return client;
    }

    private async Task StartServicesAsync(
        string relayHost, int relayPort, bool withoutStatus, IReadOnlyDictionary<string, string?> ingressSettings, IReadOnlyDictionary<string, string?> statusSettings,
        IReadOnlyDictionary<string, string?> deliverySettings)
    {
        Database = Own(await TemporaryDatabase.CreateAsync());
        var vhost = Own(await TemporaryVirtualHost.CreateAsync());
        Broker = vhost.Uri;

        var shared = _shared = new Dictionary<string, string?>
        {
            ["ConnectionStrings__Postgres"] = Database.ConnectionString,
            ["ConnectionStrings__RabbitMq"] = vhost.Uri.ToString(),
            ["Auth__BootstrapKey"] = ApiKey,
        };

        await Task.WhenAll(
            ServiceProcess.RunToCompletionAsync("EmailPlatform.Ingress", shared, "migrate"),
            ServiceProcess.RunToCompletionAsync("EmailPlatform.Status", shared, "migrate"),
            ServiceProcess.RunToCompletionAsync("EmailPlatform.Delivery", shared, "migrate"));

        _status = new Dictionary<string, string?>(shared.Concat(statusSettings));
        if (!withoutStatus)
        {
            await StartStatusAsync();
        }

        var delivery = new Dictionary<string, string?>(shared)
        {
            ["Delivery__Relays__0__Name"] = "test-relay",
            ["Delivery__Relays__0__Host"] = relayHost,
            ["Delivery__Relays__0__Port"] = relayPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Delivery__Relays__0__Security"] = "None",
            // No lookup cache here, so a suppression takes effect on the very next send; and time for the first lookups
            // of a cold worker on a loaded machine, which past the 2 s default would count as "not suppressed".
            ["Delivery__SuppressionCacheDuration"] = "00:00:00",
            ["Delivery__SuppressionLookupTimeout"] = "00:00:30",
        };
        var ingress = new Dictionary<string, string?>(shared.Concat(ingressSettings));
        if (!withoutStatus)
        {
            delivery["Delivery__StatusUrl"] = Status.Url!.ToString();
            ingress["Ingress__StatusUrl"] = Status.Url!.ToString();
        }

        foreach (var (key, value) in deliverySettings)
        {
            delivery[key] = value;
        }

        Delivery = Own(await ServiceProcess.StartAsync("EmailPlatform.Delivery", delivery));
        Ingress = Own(await ServiceProcess.StartAsync("EmailPlatform.Ingress", ingress));
    }

    private T Own<T>(T resource) where T : IAsyncDisposable
    {
        _owned.Add(resource);
        return resource;
    }
}
