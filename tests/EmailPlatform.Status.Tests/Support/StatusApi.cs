using System.Net.Http.Headers;
using EmailPlatform.Contracts;
using EmailPlatform.ServiceDefaults.Storage;
using EmailPlatform.Status.Recording;
using EmailPlatform.Status.Storage;
using EmailPlatform.Testing;
using MassTransit;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;

namespace EmailPlatform.Status.Tests.Support;

/// <summary>
/// The status service in memory (<see cref="WebApplicationFactory{TEntryPoint}"/>) on a PostgreSQL database and
/// a RabbitMQ virtual host of its own, migrated, with a random API key.
/// </summary>
internal sealed class StatusApi : IAsyncDisposable
{
    private readonly TemporaryDatabase _database;
    private readonly bool _ownsDatabase;
    private readonly TemporaryVirtualHost? _virtualHost;

    private StatusApi(
        TemporaryDatabase database, bool ownsDatabase, TemporaryVirtualHost? virtualHost, Uri rabbitMq, WebApplicationFactory<Program> factory, string apiKey)
    {
        _database = database;
        _ownsDatabase = ownsDatabase;
        _virtualHost = virtualHost;
        RabbitMqUri = rabbitMq;
        Factory = factory;
        ApiKey = apiKey;
    }

    public WebApplicationFactory<Program> Factory { get; }

    public string ApiKey { get; }

    /// <summary>The amqp URI the service uses (its virtual host's, unless given), for a listener of the commands it sends.</summary>
    public Uri RabbitMqUri { get; }

    public IServiceProvider Services => Factory.Services;

    /// <param name="settings">Configuration on top of the connection strings and key (e.g. a short webhook retry schedule).</param>
    /// <param name="services">Replacements in the container, such as a <see cref="ManualClock"/>.</param>
    /// <param name="database">A database another instance used (a restart, a second replica), left to its owner; by default one of its own.</param>
    /// <param name="rabbitMq">A broker address left to its owner (one where nothing listens, for an outage); by default a virtual host of its own.</param>
    public static async Task<StatusApi> StartAsync(
        IReadOnlyDictionary<string, string>? settings = null, Action<IServiceCollection>? services = null, TemporaryDatabase? database = null, Uri? rabbitMq = null)
    {
        var ownsDatabase = database is null;
        database ??= await TemporaryDatabase.CreateAsync();
        var virtualHost = rabbitMq is null ? await TemporaryVirtualHost.CreateAsync() : null;
        rabbitMq ??= virtualHost!.Uri;
        var apiKey = TestInfrastructure.NewApiKey();
        var factory = new WebApplicationFactory<Program>().WithWebHostBuilder(web =>
        {
            web.UseEnvironment("Production")
                .UseSetting("ConnectionStrings:Postgres", database.ConnectionString)
                .UseSetting("ConnectionStrings:RabbitMq", rabbitMq.ToString())
                .UseSetting("Auth:BootstrapKey", apiKey);
            foreach (var (key, value) in settings ?? new Dictionary<string, string>())
            {
                web.UseSetting(key, value);
            }

            if (services is not null)
            {
                web.ConfigureTestServices(services);
            }
        });
        await factory.Services.MigrateStoreAsync<StatusDbContext>();
        return new StatusApi(database, ownsDatabase, virtualHost, rabbitMq, factory, apiKey);
    }

    /// <summary>
    /// Waits until the bus is connected and its receive endpoints (the queues bound to the event exchanges) are up. Not
    /// what <c>/health/ready</c> says: the service is ready without the broker.
    /// </summary>
    public async Task WaitForBusAsync(TimeSpan timeout)
    {
        var health = await Services.GetRequiredService<IBusControl>().WaitForHealthStatus(BusHealthStatus.Healthy, timeout);
        Assert.True(health == BusHealthStatus.Healthy, $"the status service's bus is {health} after {timeout}");
    }

    /// <summary>Records events through the service's own recorder, each in a scope of its own as a consumer would.</summary>
    public async Task RecordAsync(params object[] events)
    {
        foreach (var @event in events)
        {
            await using var scope = Services.CreateAsyncScope();
            var recorder = scope.ServiceProvider.GetRequiredService<StatusRecorder>();
            await recorder.RecordAsync(@event, CancellationToken.None);
        }
    }

    /// <summary>Records the events as one batch (one transaction), in the order given, as the writer hands them to the recorder.</summary>
    public async Task RecordBatchAsync(params object[] events)
    {
        await using var scope = Services.CreateAsyncScope();
        var recorder = scope.ServiceProvider.GetRequiredService<StatusRecorder>();
        await recorder.RecordAsync([.. events.Select(e => new StatusEvent(e))], CancellationToken.None);
    }

    /// <summary>Runs <paramref name="work"/> on a fresh context of the service's store.</summary>
    public async Task<T> WithStoreAsync<T>(Func<StatusDbContext, Task<T>> work)
    {
        await using var scope = Services.CreateAsyncScope();
        return await work(scope.ServiceProvider.GetRequiredService<StatusDbContext>());
    }

    /// <summary>A client that sends the API key.</summary>
    public HttpClient CreateClient()
    {
        var client = Factory.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", ApiKey);
        return client;
    }

    public async ValueTask DisposeAsync()
    {
        await Factory.DisposeAsync();
        if (_virtualHost is not null)
        {
            await _virtualHost.DisposeAsync();
        }

        if (_ownsDatabase)
        {
            await _database.DisposeAsync();
        }
    }
}
