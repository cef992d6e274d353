using System.Globalization;
using EmailPlatform.Delivery.Sending;
using EmailPlatform.Delivery.Storage;
using EmailPlatform.ServiceDefaults.Messaging;
using EmailPlatform.ServiceDefaults.Storage;
using EmailPlatform.Testing;
using MassTransit;
using MassTransit.Testing;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace EmailPlatform.Delivery.Tests.Support;

/// <summary>The store a test runs on: a SQLite file of its own, or a PostgreSQL database of its own.</summary>
public enum TestStore
{
    Sqlite,
    Postgres,
}

/// <summary>
/// The delivery worker's services as its host wires them (<c>AddDelivery</c>, <c>AddDeliveryConsumers</c>) on the
/// MassTransit test harness, with a migrated store of its own and the retry scheduler running, sending to a relay.
/// </summary>
internal sealed class DeliveryHost : IAsyncDisposable
{
    private readonly ServiceProvider _provider;
    private readonly string? _sqliteFile;
    private readonly TemporaryDatabase? _database;
    private readonly PublishRecorder _recorder = new();

    private DeliveryHost(ServiceProvider provider, ITestHarness harness, string? sqliteFile, TemporaryDatabase? database)
    {
        _provider = provider;
        Harness = harness;
        _sqliteFile = sqliteFile;
        _database = database;
        harness.Bus.ConnectPublishObserver(_recorder);
    }

    public ITestHarness Harness { get; }

    public IServiceProvider Services => _provider;

    /// <param name="services">Registers more services after <c>AddDelivery</c> (a fake <c>ISuppressionList</c>, …).</param>
    /// <param name="routeStore">Changes the PostgreSQL connection string the worker uses (through a proxy, …).</param>
    public static async Task<DeliveryHost> StartAsync(
        int relayPort, TestStore store = TestStore.Sqlite, IDictionary<string, string?>? settings = null, Action<IServiceCollection>? services = null,
        Func<string, string>? routeStore = null)
    {
        var config = new Dictionary<string, string?>
        {
            ["Delivery:Relays:0:Name"] = "scripted",
            ["Delivery:Relays:0:Host"] = "127.0.0.1",
            ["Delivery:Relays:0:Port"] = relayPort.ToString(CultureInfo.InvariantCulture),
            ["Delivery:Relays:0:Security"] = "None",
        };

        string? file = null;
        TemporaryDatabase? database = null;
        if (store == TestStore.Postgres)
        {
            database = await TemporaryDatabase.CreateAsync();
            config["ConnectionStrings:Postgres"] = routeStore is null ? database.ConnectionString : routeStore(database.ConnectionString);
        }
        else
        {
            file = Path.Combine(Path.GetTempPath(), $"delivery-test-{Guid.NewGuid():N}.db");
            config["ConnectionStrings:Sqlite"] = $"Data Source={file}";
        }

        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            config[key] = value;
        }

        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(config);
        builder.AddDelivery();
        services?.Invoke(builder.Services);
        builder.Services.AddMassTransitTestHarness(bus => bus.AddDeliveryConsumers());
        var provider = builder.Services.BuildServiceProvider(validateScopes: true);
        await provider.MigrateStoreAsync<DeliveryDbContext>();

        var harness = provider.GetRequiredService<ITestHarness>();
        await harness.Start();
        return new DeliveryHost(provider, harness, file, database);
    }

    /// <summary>Sends the command into its priority lane, as the ingress does.</summary>
    public Task SendAsync(EmailPlatform.Contracts.SendEmail email) => DeliveryLanes.SendAsync(Harness.Bus, email, CancellationToken.None);

    /// <summary>One attempt of the command, as one consume of it makes it (through the worker's <c>EmailSender</c>, without the broker).</summary>
    public async Task SendOnceAsync(EmailPlatform.Contracts.SendEmail email)
    {
        await using var scope = _provider.CreateAsyncScope();
        await scope.ServiceProvider.GetRequiredService<EmailSender>().SendAsync(email, Harness.Bus, CancellationToken.None);
    }

    /// <summary>Every published message of type <typeparamref name="T"/> so far.</summary>
    public List<T> Published<T>() where T : class => _recorder.Of<T>().ToList();

    /// <summary>Waits until the published messages of type <typeparamref name="T"/> satisfy <paramref name="done"/>.</summary>
    public Task<List<T>> WaitForAsync<T>(Func<List<T>, bool> done, string what, int seconds = 60) where T : class =>
        Eventually.GetAsync(() => Task.FromResult(Published<T>()), done, TimeSpan.FromSeconds(seconds), what);

    public async Task<T> QueryAsync<T>(Func<DeliveryDbContext, Task<T>> query)
    {
        await using var scope = _provider.CreateAsyncScope();
        return await query(scope.ServiceProvider.GetRequiredService<DeliveryDbContext>());
    }

    public async ValueTask DisposeAsync()
    {
        await Harness.Stop();
        await _provider.DisposeAsync();
        if (_sqliteFile is not null)
        {
            SqliteConnection.ClearAllPools();
            foreach (var file in new[] { _sqliteFile, _sqliteFile + "-wal", _sqliteFile + "-shm" })
            {
                File.Delete(file);
            }
        }

        if (_database is not null)
        {
            await _database.DisposeAsync();
        }
    }
}
