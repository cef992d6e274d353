using EmailPlatform.ServiceDefaults;
using EmailPlatform.ServiceDefaults.Messaging;
using EmailPlatform.ServiceDefaults.Shutdown;
using MassTransit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace EmailPlatform.Deployment.Tests.Hosting;

/// <summary>
/// What the grace periods of the chart and the compose file are measured against: every host stops within
/// <c>Shutdown:Timeout</c>, and the bus within it, leaving the host's other services time of their own.
/// </summary>
public sealed class ShutdownTimeoutTests
{
    [Theory]
    [InlineData(null, 30)]
    [InlineData("00:01:30", 90)]
    public void TheHostAndItsBusStopWithinTheShutdownTimeout(string? configured, int seconds)
    {
        using var host = Build(configured);
        var timeout = TimeSpan.FromSeconds(seconds);

        Assert.Equal(timeout, host.Services.GetRequiredService<IOptions<HostOptions>>().Value.ShutdownTimeout);
        var bus = host.Services.GetRequiredService<IOptions<MassTransitHostOptions>>().Value;
        Assert.Equal(timeout - TimeSpan.FromSeconds(5), bus.StopTimeout.GetValueOrDefault());
        Assert.Equal(timeout - TimeSpan.FromSeconds(10), bus.ConsumerStopTimeout.GetValueOrDefault());
    }

    [Fact]
    public void TheDefaultIsTheOneTheDeploymentFilesAssume() =>
        Assert.Equal(TimeSpan.FromSeconds(30), new ShutdownOptions().Timeout);

    [Fact]
    public async Task AShutdownTimeoutTooShortForTheBusIsRefusedAtStartNamingTheKey()
    {
        var error = await Record.ExceptionAsync(async () =>
        {
            using var host = Build("00:00:05");
            await host.StartAsync();
            await host.StopAsync();
        });

        var refused = Assert.IsType<OptionsValidationException>(error);
        Assert.Contains("Shutdown:Timeout must be between 15 seconds and 1 hour.", refused.Message, StringComparison.Ordinal);
    }

    private static IHost Build(string? shutdownTimeout)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { ApplicationName = "EmailPlatform.Test" });
        if (shutdownTimeout is not null)
        {
            builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["Shutdown:Timeout"] = shutdownTimeout });
        }

        builder.AddServiceDefaults();
        builder.AddMessageBus(_ => { }, allowInMemory: true);
        return builder.Build();
    }
}
