using EmailPlatform.Ingress.Outbox;
using EmailPlatform.Ingress.Reads;
using EmailPlatform.Ingress.Sending;
using EmailPlatform.ServiceDefaults.Authentication;
using EmailPlatform.ServiceDefaults.Storage;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace EmailPlatform.Ingress;

public static class IngressExtensions
{
    /// <summary>The send API, its outbox store and the publisher that drains the outbox onto the bus.</summary>
    public static IHostApplicationBuilder AddIngress(this IHostApplicationBuilder builder)
    {
        builder.AddApiKeyAuthentication();
        builder.AddStore<IngressDbContext, PostgresIngressDbContext, SqliteIngressDbContext>(IngressDbContext.MigrationsHistoryTable);

        builder.Services.AddOptions<IngressOptions>().BindConfiguration(IngressOptions.SectionName);
        builder.Services.AddOptions<OutboxOptions>().BindConfiguration(OutboxOptions.SectionName)
            .ValidateDataAnnotations().ValidateOnStart();

        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<OutboxSignal>();
        builder.Services.AddHostedService<OutboxPublisher>();
        builder.Services.AddStatusForwarding();
        return builder;
    }

    public static IEndpointRouteBuilder MapIngress(this IEndpointRouteBuilder routes)
    {
        routes.MapSending();
        if (routes.ServiceProvider.GetRequiredService<IOptions<IngressOptions>>().Value.StatusUrl is not null)
        {
            routes.MapStatusForwarding();
        }

        return routes;
    }
}
