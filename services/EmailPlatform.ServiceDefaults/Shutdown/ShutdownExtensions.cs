using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace EmailPlatform.ServiceDefaults.Shutdown;

public static class ShutdownExtensions
{
    /// <summary>
    /// Binds <see cref="ShutdownOptions"/> and sets the host's shutdown timeout from it, explicitly rather than by the
    /// .NET default that happens to be the same 30 s, so that the bus's stop (<c>AddMessageBus</c>), the host's and the
    /// grace periods of the Helm chart and the compose file are derived from one setting.
    /// </summary>
    public static IHostApplicationBuilder AddShutdownTimeout(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<ShutdownOptions>()
            .BindConfiguration(ShutdownOptions.SectionName)
            .ValidateDataAnnotations()
            .ValidateOnStart();
        builder.Services.AddOptions<HostOptions>()
            .Configure<IOptions<ShutdownOptions>>((host, shutdown) => host.ShutdownTimeout = shutdown.Value.Timeout);
        return builder;
    }
}
