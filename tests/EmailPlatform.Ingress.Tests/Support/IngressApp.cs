using EmailPlatform.Ingress.Storage;
using System.Net.Http.Headers;
using System.Text.Json;
using EmailPlatform.Contracts;
using System.Net.Http.Json;
using EmailPlatform.Ingress.Outbox;
using EmailPlatform.ServiceDefaults.Json;
using EmailPlatform.ServiceDefaults.Storage;
using EmailPlatform.Testing;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
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
    private readonly TemporaryDatabase? _ownedDatabase;
    private readonly TemporaryVirtualHost? _virtualHost;

    private IngressApp(WebApplicationFactory<Program> factory, TemporaryDatabase database, bool ownsDatabase, TemporaryVirtualHost? virtualHost, string apiKey)
    {
        _factory = factory;
        Database = database;
        _ownedDatabase = ownsDatabase ? database : null;
        _virtualHost = virtualHost;
        ApiKey = apiKey;
    }

    public string ApiKey { get; }

    /// <summary>The PostgreSQL database this ingress stores in (its own, or one shared with another ingress).</summary>
    public TemporaryDatabase Database { get; }

    /// <summary>The amqp URI of the broker this ingress publishes to.</summary>
    public Uri? RabbitMq { get; private set; }

    public IServiceProvider Services => _factory.Services;

    /// <param name="rabbitMq">The broker to use; a fresh virtual host on the test broker, with the delivery lanes' queues, when null.</param>
    /// <param name="settings">More configuration, such as <c>Ingress:StatusUrl</c>.</param>
    /// <param name="database">A database shared with another ingress (a second replica); this app does not drop it.</param>
    /// <param name="apiKey">The bootstrap key; a new random one when null (replicas share theirs).</param>
    /// <param name="services">Changes to the ingress's services, made after its own registrations.</param>
    public static async Task<IngressApp> StartAsync(
        Uri? rabbitMq = null, IReadOnlyDictionary<string, string?>? settings = null, TemporaryDatabase? database = null, string? apiKey = null,
        Action<IServiceCollection>? services = null)
    {
        var ownsDatabase = database is null;
        database ??= await TemporaryDatabase.CreateAsync();
        TemporaryVirtualHost? virtualHost = null;
        WebApplicationFactory<Program>? factory = null;
        try
        {
            if (rabbitMq is null)
            {
                virtualHost = await TemporaryVirtualHost.CreateAsync();
                rabbitMq = virtualHost.Uri;
                await LaneQueues.DeclareAsync(rabbitMq);
            }

            apiKey ??= TestInfrastructure.NewApiKey();
            factory = new WebApplicationFactory<Program>().WithWebHostBuilder(web =>
            {
                web.UseSetting("ConnectionStrings:Postgres", database.ConnectionString);
                web.UseSetting("ConnectionStrings:RabbitMq", rabbitMq.ToString());
                web.UseSetting("Auth:BootstrapKey", apiKey);
                foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
                {
                    web.UseSetting(key, value);
                }

                if (services is not null)
                {
                    web.ConfigureTestServices(services);
                }
            });

            await factory.Services.MigrateStoreAsync<IngressDbContext>();
            return new IngressApp(factory, database, ownsDatabase, virtualHost, apiKey) { RabbitMq = rabbitMq };
        }
        catch
        {
            await DisposeAllAsync(factory, virtualHost, ownsDatabase ? database : null);
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

    /// <summary>
    /// A client with the bootstrap key that streams request bodies: the default clients follow redirects, for which they
    /// read each request's whole body before sending it.
    /// </summary>
    public HttpClient CreateStreamingClient()
    {
        var client = _factory.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false });
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", ApiKey);
        return client;
    }

    /// <summary>A client that sends <c>Authorization: Bearer &lt;apiKey&gt;</c>.</summary>
    public HttpClient CreateClient(string apiKey)
    {
        var client = _factory.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
        return client;
    }

    /// <summary>Creates an API key with the bootstrap key; returns its token and id.</summary>
    public async Task<(string Token, Guid Id)> CreateApiKeyAsync(object body)
    {
        using var client = CreateClient();
        using var response = await client.PostAsJsonAsync(new Uri("/v1/api-keys", UriKind.Relative), body);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == System.Net.HttpStatusCode.Created, $"{(int)response.StatusCode}: {text}");
        using var json = JsonDocument.Parse(text);
        return (json.RootElement.GetProperty("token").GetString()!, json.RootElement.GetProperty("id").GetGuid());
    }

    /// <summary>Posts raw JSON to <paramref name="path"/> with the client's credentials and any extra headers.</summary>
    public static async Task<HttpResponseMessage> PostJsonAsync(
        HttpClient client, string path, string json, params (string Name, string Value)[] headers)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(path, UriKind.Relative))
        {
            Content = new StringContent(json, System.Text.Encoding.UTF8, "application/json"),
        };
        foreach (var (name, value) in headers)
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        return await client.SendAsync(request);
    }

    /// <summary>Every row of the outbox (all types).</summary>
    public async Task<List<OutboxMessage>> OutboxRowsAsync()
    {
        await using var scope = Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<IngressDbContext>();
        return await db.OutboxMessages.AsNoTracking().OrderBy(m => m.Id).ToListAsync();
    }

    /// <summary>Runs SQL on this ingress's database.</summary>
    public async Task<int> ExecuteSqlAsync(string sql)
    {
        await using var connection = new Npgsql.NpgsqlConnection(Database.ConnectionString);
        await connection.OpenAsync();
        await using var command = new Npgsql.NpgsqlCommand(sql, connection);
        return await command.ExecuteNonQueryAsync();
    }

    /// <summary>A client without credentials.</summary>
    public HttpClient CreateAnonymousClient() => _factory.CreateClient();

    /// <summary>The in-memory server, for a request no <see cref="HttpClient"/> would send (a raw request target of one's own).</summary>
    public Microsoft.AspNetCore.TestHost.TestServer Server => _factory.Server;

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

    /// <summary>
    /// What the outbox holds for one accepted email, or null when it holds nothing for it: its one row when it was
    /// accepted for now, or its separate <c>EmailAccepted</c> and <c>SendEmail</c> rows when scheduled (or changed).
    /// </summary>
    public async Task<OutboxEntry?> FindOutboxRowAsync(Guid id)
    {
        await using var scope = Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<IngressDbContext>();
        var rows = await db.OutboxMessages.AsNoTracking().Where(m => m.EmailId == id).ToListAsync();
        if (rows.SingleOrDefault(r => r.MessageType == OutboxMessageTypes.AcceptedEmailRow) is { } whole)
        {
            var messages = OutboxMessageTypes.Read(whole).Select(m => m.Message).ToList();
            return new OutboxEntry(messages.OfType<SendEmail>().Single(), messages.OfType<EmailAccepted>().Single(),
                whole.AvailableAt, whole.PublishedAt, rows.Count);
        }

        var send = rows.SingleOrDefault(r => r.MessageType == nameof(SendEmail));
        var accepted = rows.SingleOrDefault(r => r.MessageType == nameof(EmailAccepted));
        return send is null || accepted is null
            ? null
            : new OutboxEntry(
                JsonSerializer.Deserialize<SendEmail>(send.Payload, StoredJson.Options)!,
                JsonSerializer.Deserialize<EmailAccepted>(accepted.Payload, StoredJson.Options)!,
                send.AvailableAt,
                send.PublishedAt,
                rows.Count);
    }

    public async ValueTask DisposeAsync() => await DisposeAllAsync(_factory, _virtualHost, _ownedDatabase);

    private static async Task DisposeAllAsync(WebApplicationFactory<Program>? factory, TemporaryVirtualHost? virtualHost, TemporaryDatabase? database)
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
                if (database is not null)
                {
                    await database.DisposeAsync();
                }
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
