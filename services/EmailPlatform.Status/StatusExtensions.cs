using EmailPlatform.ServiceDefaults.Authentication;
using EmailPlatform.ServiceDefaults.Storage;
using EmailPlatform.Status.Reads;
using EmailPlatform.Status.Recording;
using EmailPlatform.Status.Storage;
using MassTransit;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace EmailPlatform.Status;

public static class StatusExtensions
{
    /// <summary>The status store, the recorder behind the consumers and the read API.</summary>
    public static IHostApplicationBuilder AddStatus(this IHostApplicationBuilder builder)
    {
        builder.AddApiKeyAuthentication();
        builder.AddStore<StatusDbContext, PostgresStatusDbContext, SqliteStatusDbContext>(StatusDbContext.MigrationsHistoryTable);
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.AddScoped<StatusRecorder>();
        return builder;
    }

    public static IBusRegistrationConfigurator AddStatusConsumers(this IBusRegistrationConfigurator bus)
    {
        bus.AddConsumer<EmailLifecycleConsumer, EmailLifecycleConsumerDefinition>();
        bus.AddConsumer<RecipientOutcomeConsumer, RecipientOutcomeConsumerDefinition>();
        return bus;
    }

    public static IEndpointRouteBuilder MapStatus(this IEndpointRouteBuilder routes)
    {
        routes.MapEmailReads();
        return routes;
    }
}
