using EmailPlatform.Ingress.Storage;
using System.Net.Http.Headers;
using System.Text.Json;
using EmailPlatform.Contracts;
using System.Net.Http.Json;
using EmailPlatform.Ingress.Outbox;
using EmailPlatform.ServiceDefaults.Storage;
using EmailPlatform.Testing;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace EmailPlatform.Ingress.Tests.Support;

/// <summary>
/// One ingress for one test: its own <see cref="WebApplicationFactory{TEntryPoint}"/>, its own PostgreSQL
/// database (migrated before the first request) and, unless a broker URI is given, its own RabbitMQ
/// virtual host. Disposing stops the host, then removes the virtual host and drops the database.
/// </summary>
internal sealed class IngressApp : IAsyncDisposable
{
    private readonly WebApplicationFactory<Program> _factory;
    private readonly TemporaryDatabase _database;
    private readonly TemporaryVirtualHost? _virtualHost;

    private IngressApp(WebApplicationFactory<Program> factory, TemporaryDatabase database, TemporaryVirtualHost? virtualHost, string apiKey)
    {
        _factory = factory;
        _database = database;
        _virtualHost = virtualHost;
        ApiKey = apiKey;
    }

    public string ApiKey { get; }

    public IServiceProvider Services => _factory.Services;

    /// <param name="rabbitMq">The broker to use; a fresh virtual host on the test broker when null.</param>
    /// <param name="settings">More configuration, such as <c>Ingress:StatusUrl</c>.</param>
    public static async Task<IngressApp> StartAsync(Uri? rabbitMq = null, IReadOnlyDictionary<string, string?>? settings = null)
    {
        var database = await TemporaryDatabase.CreateAsync();
        TemporaryVirtualHost? virtualHost = null;
        WebApplicationFactory<Program>? factory = null;
        try
        {
            if (rabbitMq is null)
            {
                virtualHost = await TemporaryVirtualHost.CreateAsync();
                rabbitMq = virtualHost.Uri;
            }

            var apiKey = TestInfrastructure.NewApiKey();
            factory = new WebApplicationFactory<Program>().WithWebHostBuilder(web =>
            {
                web.UseSetting("ConnectionStrings:Postgres", database.ConnectionString);
                web.UseSetting("ConnectionStrings:RabbitMq", rabbitMq.ToString());
                web.UseSetting("Auth:BootstrapKey", apiKey);
                foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
                {
                    web.UseSetting(key, value);
                }
            });

            await factory.Services.MigrateStoreAsync<IngressDbContext>();
            return new IngressApp(factory, database, virtualHost, apiKey);
        }
        catch
        {
            await DisposeAllAsync(factory, virtualHost, database);
            throw;
        }
    }

    /// <summary>A client that sends <c>Authorization: Bearer &lt;the bootstrap key&gt;</c>.</summary>
    public HttpClient CreateClient()
    {
        var client = _factory.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", ApiKey);
        return client;
    }

    /// <summary>A client without credentials.</summary>
    public HttpClient CreateAnonymousClient() => _factory.CreateClient();

    /// <summary>Posts <paramref name="json"/> to <c>/v1/emails</c> as <c>application/json</c> with the API key.</summary>
    public async Task<HttpResponseMessage> PostEmailAsync(string json)
    {
        using var client = CreateClient();
        using var content = new StringContent(json, System.Text.Encoding.UTF8, "application/json");
        return await client.PostAsync(new Uri("/v1/emails", UriKind.Relative), content);
    }

    /// <summary>Posts <paramref name="body"/> serialized with the default web JSON options.</summary>
    public async Task<HttpResponseMessage> PostEmailAsync(object body)
    {
        using var client = CreateClient();
        return await client.PostAsJsonAsync(new Uri("/v1/emails", UriKind.Relative), body);
    }

    /// <summary>How many emails have messages in the outbox (each accepted email writes several).</summary>
    public async Task<int> CountOutboxAsync()
    {
        await using var scope = Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<IngressDbContext>();
        return await db.OutboxMessages.Select(m => m.EmailId).Distinct().CountAsync();
    }

    /// <summary>What the outbox holds for one accepted email, or null when it holds nothing for it.</summary>
    public async Task<OutboxEntry?> FindOutboxRowAsync(Guid id)
    {
        await using var scope = Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<IngressDbContext>();
        var rows = await db.OutboxMessages.AsNoTracking().Where(m => m.EmailId == id).ToListAsync();
        var send = rows.SingleOrDefault(r => r.MessageType == nameof(SendEmail));
        var accepted = rows.SingleOrDefault(r => r.MessageType == nameof(EmailAccepted));
        return send is null || accepted is null
            ? null
            : new OutboxEntry(
                JsonSerializer.Deserialize<SendEmail>(send.Payload, OutboxMessageTypes.Json)!,
                JsonSerializer.Deserialize<EmailAccepted>(accepted.Payload, OutboxMessageTypes.Json)!,
                send.AvailableAt,
                send.PublishedAt,
                rows.Count);
    }

    public async ValueTask DisposeAsync() => await DisposeAllAsync(_factory, _virtualHost, _database);

    private static async Task DisposeAllAsync(WebApplicationFactory<Program>? factory, TemporaryVirtualHost? virtualHost, TemporaryDatabase database)
    {
        try
        {
            if (factory is not null)
            {
                await factory.DisposeAsync();
            }
        }
        finally
        {
            try
            {
                if (virtualHost is not null)
                {
                    await virtualHost.DisposeAsync();
                }
            }
            finally
            {
                await database.DisposeAsync();
            }
        }
    }
}

/// <summary>An accepted email as the outbox holds it: its command, its accepted event, when it is due and whether it went out.</summary>
internal sealed record OutboxEntry(SendEmail Command, EmailAccepted Accepted, DateTime AvailableAt, DateTime? PublishedAt, int Messages)
{
    public IReadOnlyList<string> Bcc => Accepted.Bcc;

    public DateTime AcceptedAt => Command.AcceptedAt.UtcDateTime;
}
