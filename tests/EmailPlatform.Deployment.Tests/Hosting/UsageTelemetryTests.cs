using EmailPlatform.ServiceDefaults;
using EmailPlatform.ServiceDefaults.Messaging;
using MassTransit;
using MassTransit.UsageTracking;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace EmailPlatform.Deployment.Tests.Hosting;

/// <summary>A self-hosted product reports to no one: MassTransit's usage telemetry is off in every host.</summary>
public sealed class UsageTelemetryTests
{
    [Fact]
    public void MassTransitsUsageTelemetryIsOff()
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { ApplicationName = "EmailPlatform.Test" });
        builder.AddServiceDefaults();
        builder.AddMessageBus(_ => { }, allowInMemory: true);
        using var host = builder.Build();

        Assert.False(host.Services.GetRequiredService<IOptions<UsageTelemetryOptions>>().Value.Enabled);
        // The tracker is what reports: it reads the options and MASSTRANSIT_USAGE_TELEMETRY, which the tests leave unset.
        Assert.False(Assert.IsType<UsageTracker>(host.Services.GetRequiredService<IUsageTracker>()).Enabled);
    }
}
