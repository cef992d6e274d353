using System.Net;
using System.Net.Http.Json;
using EmailPlatform.Delivery.Suppressions;
using EmailPlatform.Status.Storage;
using EmailPlatform.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;

namespace EmailPlatform.Standalone.Tests;

/// <summary>The standalone host's suppression lookup (<see cref="StoreSuppressionList"/>) against its status store.</summary>
public sealed class StoreSuppressionListTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("emailplatform-data-").FullName;
    private readonly string _apiKey = TestInfrastructure.NewApiKey();

    [Fact]
    public async Task AnAddressWithItsDomainInPunycodeOrCapitalsIsFoundSuppressedAsTheStatusServiceStoresIt()
    {
        await using var host = StandaloneHost.Create(_root, _apiKey, ServiceProcess.FreeTcpPort());
        using var client = StandaloneHost.Client(host, _apiKey);
        using (var put = await client.PutAsJsonAsync(new Uri($"/v1/suppressions/{Uri.EscapeDataString("bob@bücher.de")}", UriKind.Relative),
            new { reason = "Asked to stop" }))
        {
            Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        }

        var list = host.Services.GetRequiredService<ISuppressionList>();

        Assert.IsType<StoreSuppressionList>(list);
        Assert.Equal("Asked to stop", await list.FindAsync("bob@xn--bcher-kva.de", CancellationToken.None));
        Assert.Equal("Asked to stop", await list.FindAsync("Bob@XN--BCHER-KVA.DE", CancellationToken.None));
        Assert.Equal("Asked to stop", await list.FindAsync(" Bob@Bücher.de ", CancellationToken.None));
        Assert.Null(await list.FindAsync("alice@xn--bcher-kva.de", CancellationToken.None));
    }

    [Fact]
    public async Task AStoreThatCannotBeReadAnswersNotSuppressedAsTheContractSaysInsteadOfThrowing()
    {
        // A database file in a directory that does not exist: SQLite cannot open it, and every query throws.
        var services = new ServiceCollection()
            .AddDbContext<StatusDbContext>(o => o.UseSqlite($"Data Source={Path.Combine(_root, "missing", "status.db")}"))
            .BuildServiceProvider();
        await using (services)
        {
            var list = new StoreSuppressionList(
                services.GetRequiredService<IServiceScopeFactory>(), TimeProvider.System, NullLogger<StoreSuppressionList>.Instance);

            Assert.Null(await list.FindAsync("bob@example.com", CancellationToken.None));
        }
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);
}
