using System.Globalization;
using EmailPlatform.Contracts;
using EmailPlatform.Delivery.Storage;
using EmailPlatform.ServiceDefaults.Messaging;
using EmailPlatform.ServiceDefaults.Storage;
using EmailPlatform.Testing;
using MassTransit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace EmailPlatform.Delivery.Tests.Support;

/// <summary>
/// A delivery worker wired as its host wires it (<c>AddMessageBus</c> with <c>AddDeliveryConsumers</c>, <c>AddDelivery</c>)
/// on a real RabbitMQ virtual host and PostgreSQL database of its own, in this process so a test can look at its
/// store and at what it publishes.
/// </summary>
internal sealed class RabbitMqWorker : IAsyncDisposable
{
    private readonly IHost _host;
    private readonly PublishRecorder _recorder = new();

    private readonly bool _ownsVirtualHost;

    private RabbitMqWorker(IHost host, TemporaryVirtualHost vhost, bool ownsVirtualHost, TemporaryDatabase database)
    {
        _host = host;
        VirtualHost = vhost;
        _ownsVirtualHost = ownsVirtualHost;
        Database = database;
        Bus.ConnectPublishObserver(_recorder);
    }

    public TemporaryVirtualHost VirtualHost { get; }

    public TemporaryDatabase Database { get; }

    public IBus Bus => _host.Services.GetRequiredService<IBus>();

    public IServiceProvider Services => _host.Services;

    /// <param name="virtualHost">A virtual host the test already made (and removes); null for one of the worker's own.</param>
    /// <param name="services">Registers more services after <c>AddDelivery</c> (a clock of the test's, …).</param>
    public static async Task<RabbitMqWorker> StartAsync(
        int relayPort, IDictionary<string, string?>? settings = null, TemporaryVirtualHost? virtualHost = null, Action<IServiceCollection>? services = null)
    {
        var vhost = virtualHost ?? await TemporaryVirtualHost.CreateAsync();
        var database = await TemporaryDatabase.CreateAsync();
        var config = new Dictionary<string, string?>
        {
            ["ConnectionStrings:RabbitMq"] = vhost.Uri.ToString(),
            ["ConnectionStrings:Postgres"] = database.ConnectionString,
            ["Delivery:Relays:0:Name"] = "scripted",
            ["Delivery:Relays:0:Host"] = "127.0.0.1",
            ["Delivery:Relays:0:Port"] = relayPort.ToString(CultureInfo.InvariantCulture),
            ["Delivery:Relays:0:Security"] = "None",
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            config[key] = value;
        }

        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(config);
        builder.AddMessageBus(bus => bus.AddDeliveryConsumers());
        builder.AddDelivery();
        services?.Invoke(builder.Services);
        var host = builder.Build();
        await host.Services.MigrateStoreAsync<DeliveryDbContext>();
        await host.StartAsync();

        // The host starts the bus without waiting for the broker; the lanes are bound once it is healthy.
        var health = await host.Services.GetRequiredService<IBusControl>().WaitForHealthStatus(BusHealthStatus.Healthy, TimeSpan.FromSeconds(60));
        if (health != BusHealthStatus.Healthy)
        {
            throw new InvalidOperationException($"The worker's bus did not become healthy: {health}.");
        }

        return new RabbitMqWorker(host, vhost, virtualHost is null, database);
    }

    /// <summary>Sends the command into its priority lane, as the ingress does.</summary>
    public Task SendAsync(SendEmail email) => DeliveryLanes.SendAsync(Bus, email, CancellationToken.None);

    public List<T> Published<T>() where T : class => _recorder.Of<T>().ToList();

    public Task<List<T>> WaitForAsync<T>(Func<List<T>, bool> done, string what, int seconds = 90) where T : class =>
        Eventually.GetAsync(() => Task.FromResult(Published<T>()), done, TimeSpan.FromSeconds(seconds), what);

    public async Task<T> QueryAsync<T>(Func<DeliveryDbContext, Task<T>> query)
    {
        await using var scope = _host.Services.CreateAsyncScope();
        return await query(scope.ServiceProvider.GetRequiredService<DeliveryDbContext>());
    }

    public async ValueTask DisposeAsync()
    {
        await _host.StopAsync();
        _host.Dispose();
        await Database.DisposeAsync();
        if (_ownsVirtualHost)
        {
            await VirtualHost.DisposeAsync();
        }
    }
}
