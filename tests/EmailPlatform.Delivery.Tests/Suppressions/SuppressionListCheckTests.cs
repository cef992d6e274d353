using EmailPlatform.Delivery.Suppressions;
using EmailPlatform.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace EmailPlatform.Delivery.Tests.Suppressions;

public sealed class SuppressionListCheckTests
{
    [Fact]
    public async Task WorkerWithoutStatusUrlWarnsAtStartThatSuppressedAddressesAreMailed()
    {
        var warnings = await StartCheckAsync(statusUrl: null);

        var warning = Assert.Single(warnings);
        Assert.Equal(4002, warning.Id);
        Assert.Contains("Delivery:StatusUrl is not set", warning.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task WorkerWithStatusUrlDoesNotWarn() =>
        Assert.Empty(await StartCheckAsync(statusUrl: "http://status:8080"));

    [Fact]
    public async Task HostWithItsOwnSuppressionListDoesNotWarn() =>
        Assert.Empty(await StartCheckAsync(statusUrl: null, services => services.AddSingleton<ISuppressionList, FakeSuppressionList>()));

    /// <summary>Builds a worker host as the delivery service does and starts only the check; returns what it warned.</summary>
    private static async Task<List<(int Id, string Message)>> StartCheckAsync(string? statusUrl, Action<IServiceCollection>? configure = null)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Delivery:Relays:0:Host"] = "smtp.example",
            ["Delivery:StatusUrl"] = statusUrl,
            ["ConnectionStrings:Sqlite"] = "Data Source=:memory:",
        });
        var logs = new LogCapture();
        builder.Logging.ClearProviders().AddProvider(logs);
        builder.AddDelivery();
        configure?.Invoke(builder.Services);
        using var host = builder.Build();

        var check = host.Services.GetServices<IHostedService>().OfType<SuppressionListCheck>().Single();
        await check.StartAsync(CancellationToken.None);
        return [.. logs.Entries.Where(e => e.Level == LogLevel.Warning).Select(e => (e.Id, e.Message))];
    }
}
