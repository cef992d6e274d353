using System.Net.Http.Headers;
using EmailPlatform.ServiceDefaults.Storage;
using EmailPlatform.Status.Storage;
using EmailPlatform.Testing;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;

namespace EmailPlatform.Status.Tests.Support;

/// <summary>
/// The status service in memory (<see cref="WebApplicationFactory{TEntryPoint}"/>) on a PostgreSQL database and
/// a RabbitMQ virtual host of its own, migrated, with a random API key.
/// </summary>
internal sealed class StatusApi : IAsyncDisposable
{
    private readonly TemporaryDatabase _database;
    private readonly TemporaryVirtualHost _virtualHost;

    private StatusApi(TemporaryDatabase database, TemporaryVirtualHost virtualHost, WebApplicationFactory<Program> factory, string apiKey)
    {
        _database = database;
        _virtualHost = virtualHost;
        Factory = factory;
        ApiKey = apiKey;
    }

    public WebApplicationFactory<Program> Factory { get; }

    public string ApiKey { get; }

    public IServiceProvider Services => Factory.Services;

    public static async Task<StatusApi> StartAsync()
    {
        var database = await TemporaryDatabase.CreateAsync();
        var virtualHost = await TemporaryVirtualHost.CreateAsync();
        var apiKey = TestInfrastructure.NewApiKey();
        var factory = new WebApplicationFactory<Program>().WithWebHostBuilder(web => web
            .UseEnvironment("Production")
            .UseSetting("ConnectionStrings:Postgres", database.ConnectionString)
            .UseSetting("ConnectionStrings:RabbitMq", virtualHost.Uri.ToString())
            .UseSetting("Auth:BootstrapKey", apiKey));
        await factory.Services.MigrateStoreAsync<StatusDbContext>();
        return new StatusApi(database, virtualHost, factory, apiKey);
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
        await _virtualHost.DisposeAsync();
        await _database.DisposeAsync();
    }
}
