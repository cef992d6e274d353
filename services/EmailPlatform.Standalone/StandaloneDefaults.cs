using EmailPlatform.Delivery.Storage;
using EmailPlatform.Ingress.Storage;
using System.Net;
using System.Security.Cryptography;
using EmailPlatform.Ingress.Outbox;
using EmailPlatform.ServiceDefaults.Messaging;
using EmailPlatform.ServiceDefaults.Storage;
using EmailPlatform.Standalone.Capture;
using EmailPlatform.Status.Storage;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Data.Sqlite;

namespace EmailPlatform.Standalone;

/// <summary>
/// The embedded defaults that let one process run the whole platform on a laptop. Each default applies only
/// where configuration says nothing: a configured key, store, broker or relay always wins.
/// </summary>
internal static class StandaloneDefaults
{
    private const string DefaultUrl = "http://localhost:8080";

    public static IHostApplicationBuilder AddStandaloneDefaults(this WebApplicationBuilder builder)
    {
        var options = builder.Configuration.GetSection(StandaloneOptions.SectionName).Get<StandaloneOptions>() ?? new StandaloneOptions();
        if (options.CaptureRelayPort is < 1 or > 65535)
        {
            throw new InvalidOperationException($"Standalone:CaptureRelayPort must be a TCP port (1-65535); got {options.CaptureRelayPort}.");
        }

        builder.Services.AddSingleton(options);
        CreateDataDirectory(options.DataDirectory);

        var defaults = new Dictionary<string, string?>();
        if (string.IsNullOrEmpty(builder.Configuration["urls"]))
        {
            builder.WebHost.UseUrls(DefaultUrl);
        }

        if (string.IsNullOrEmpty(builder.Configuration.GetConnectionString(StoreExtensions.PostgresConnectionName))
            && string.IsNullOrEmpty(builder.Configuration.GetConnectionString(StoreExtensions.SqliteConnectionName)))
        {
            // Built, not formatted: a data directory may hold a ';' or a '=' that a formatted string would split on.
            defaults[$"ConnectionStrings:{StoreExtensions.SqliteConnectionName}"] = new SqliteConnectionStringBuilder { DataSource = options.DatabaseFile }.ToString();
        }

        if (string.IsNullOrEmpty(builder.Configuration["Auth:BootstrapKey"]))
        {
            defaults["Auth:BootstrapKey"] = LoadOrCreateKey(options.KeyFile);
            options.KeyIsGenerated = true;
        }

        if (!builder.Configuration.GetSection("Delivery:Relays").GetChildren().Any())
        {
            defaults["Delivery:Relays:0:Name"] = CaptureRelay.RelayName;
            defaults["Delivery:Relays:0:Host"] = "127.0.0.1";
            defaults["Delivery:Relays:0:Port"] = options.CaptureRelayPort.ToString(System.Globalization.CultureInfo.InvariantCulture);
            defaults["Delivery:Relays:0:Security"] = "None";
        }

        if (string.IsNullOrEmpty(builder.Configuration["Webhooks:AllowPrivateTargets"]))
        {
            // On a laptop the webhook receiver being tried runs on the same machine or network.
            defaults["Webhooks:AllowPrivateTargets"] = "true";
        }

        builder.Configuration.AddInMemoryCollection(defaults);
        return builder;
    }

    /// <summary>The standalone host applies its own migrations at start; distributed services never do.</summary>
    public static async Task MigrateStandaloneStoresAsync(this WebApplication app)
    {
        await app.Services.MigrateStoreAsync<IngressDbContext>();
        await app.Services.MigrateStoreAsync<DeliveryDbContext>();
        await app.Services.MigrateStoreAsync<StatusDbContext>();
    }

    /// <summary>
    /// With the in-memory bus (no <c>ConnectionStrings:RabbitMq</c>), puts back what the last stop lost
    /// (<see cref="InMemoryBusRecovery"/>); before the host starts, so before the outbox publisher and the consumers run.
    /// </summary>
    public static async Task RecoverInMemoryBusAsync(this WebApplication app)
    {
        if (!string.IsNullOrWhiteSpace(app.Configuration.GetConnectionString(MessagingExtensions.ConnectionStringName)))
        {
            return;
        }

        await using var scope = app.Services.CreateAsyncScope();
        await ActivatorUtilities.CreateInstance<InMemoryBusRecovery>(scope.ServiceProvider).RecoverAsync(app.Lifetime.ApplicationStopping);
    }

    public static void PrintWelcomeOnStart(this WebApplication app) => app.Lifetime.ApplicationStarted.Register(() =>
    {
        var options = app.Services.GetRequiredService<StandaloneOptions>();
        var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses;
        var url = BrowsableUrl(addresses?.FirstOrDefault() ?? DefaultUrl);
        // A key the operator configured is theirs to know; only a generated one is shown.
        var key = options.KeyIsGenerated ? app.Configuration["Auth:BootstrapKey"] : "<your Auth:BootstrapKey>";
        var capture = app.Services.GetService<CaptureRelay>() is not null
            ? $"Mail is captured by the built-in relay on 127.0.0.1:{options.CaptureRelayPort} into {Path.GetFullPath(options.MailDirectory)}"
            : "Mail goes to the relays configured in Delivery:Relays";

        Console.WriteLine($$"""

            EmailPlatform standalone is running at {{url}}
              API key:  {{key}}
              {{capture}}
              API docs: {{url}}/docs

            Send an email:
              curl -sS {{url}}/v1/emails \
                -H 'Authorization: Bearer {{key}}' \
                -H 'Content-Type: application/json' \
                -d '{"from": "Acme <hello@acme.test>", "to": "you@example.test", "subject": "Hello", "text": "It works."}'

            Then read its status (use the id from the answer):
              curl -sS {{url}}/v1/emails/<id> -H 'Authorization: Bearer {{key}}'

            """);
    });

    /// <summary>
    /// <paramref name="address"/> as a browser or curl on this machine reaches it: a wildcard host (<c>+</c>, <c>*</c>,
    /// <c>[::]</c>, <c>0.0.0.0</c>) becomes <c>localhost</c>. The image's <c>ASPNETCORE_URLS=http://+:8080</c> is reported by
    /// Kestrel as <c>http://[::]:8080</c>, which is no address to send a request to.
    /// </summary>
    internal static string BrowsableUrl(string address)
    {
        var url = BindingAddress.Parse(address);
        var wildcard = url.Host is "+" or "*"
            || (IPAddress.TryParse(url.Host, out var ip) && (ip.Equals(IPAddress.Any) || ip.Equals(IPAddress.IPv6Any)));
        return wildcard ? $"{url.Scheme}://localhost:{url.Port}{url.PathBase}" : address;
    }

    /// <summary>
    /// The data directory holds the API key, the database and every captured message: created readable by its owner
    /// only. One that exists is left as its owner set it up.
    /// </summary>
    private static void CreateDataDirectory(string path)
    {
        if (Directory.Exists(path))
        {
            return;
        }

        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(path);
        }
        else
        {
            Directory.CreateDirectory(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
    }

    /// <summary>A key generated on first start and kept under the data directory, so the curl above keeps working.</summary>
    private static string LoadOrCreateKey(string file)
    {
        if (File.Exists(file))
        {
            var existing = File.ReadAllText(file).Trim();
            if (existing.Length >= 24)
            {
                return existing;
            }
        }

        var key = "ep_" + Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        // Created 0600, never readable by others even for a moment, under a temporary name and renamed over an old
        // (too short) key file, whose own mode would otherwise stay.
        var temporary = file + ".tmp";
        var create = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None };
        if (!OperatingSystem.IsWindows())
        {
            create.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        // A leftover of a start killed here: created anew, so with the mode above.
        File.Delete(temporary);
        using (var writer = new StreamWriter(temporary, new System.Text.UTF8Encoding(encoderShouldEmitUTF8Identifier: false), create))
        {
            writer.Write(key);
        }

        File.Move(temporary, file, overwrite: true);
        return key;
    }
}
