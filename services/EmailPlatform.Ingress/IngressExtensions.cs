using EmailPlatform.Ingress.ApiKeys;
using EmailPlatform.Ingress.Idempotency;
using EmailPlatform.Ingress.Maintenance;
using EmailPlatform.Ingress.Outbox;
using EmailPlatform.Ingress.RateLimiting;
using EmailPlatform.Ingress.Reads;
using EmailPlatform.Ingress.Scheduling;
using EmailPlatform.Ingress.Sending;
using EmailPlatform.Ingress.Storage;
using EmailPlatform.Ingress.Templates;
using EmailPlatform.ServiceDefaults.Authentication;
using EmailPlatform.ServiceDefaults.Storage;
using MassTransit;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace EmailPlatform.Ingress;

public static class IngressExtensions
{
    /// <summary>
    /// The send API with its store (outbox, API keys, idempotency records), the publisher that drains the
    /// outbox onto the bus, and the forwarding of reads to the status service.
    /// </summary>
    public static IHostApplicationBuilder AddIngress(this IHostApplicationBuilder builder)
    {
        builder.AddApiKeyAuthentication();
        builder.AddStore<IngressDbContext, PostgresIngressDbContext, SqliteIngressDbContext>(IngressDbContext.MigrationsHistoryTable);

        builder.Services.AddOptions<IngressOptions>().BindConfiguration(IngressOptions.SectionName)
            .ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddOptions<OutboxOptions>().BindConfiguration(OutboxOptions.SectionName)
            .ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddOptions<IdempotencyOptions>().BindConfiguration(IdempotencyOptions.SectionName)
            .ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddOptions<RateLimitOptions>().BindConfiguration(RateLimitOptions.SectionName)
            .ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddOptions<TemplatesOptions>().BindConfiguration(TemplatesOptions.SectionName)
            .ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<IngressOptions>, IngressOptionsValidator>();
        builder.Services.AddOptions<KestrelServerOptions>().Configure<IOptions<IngressOptions>>(
            (kestrel, ingress) => kestrel.Limits.MaxRequestBodySize = ingress.Value.MaxRequestBodyBytes + 1);

        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.AddMemoryCache();
        builder.Services.AddSingleton<IApiKeyResolver, ApiKeyResolver>();
        builder.Services.AddSingleton<RateLimitFilter>();
        builder.Services.AddSingleton<OutboxSignal>();
        builder.Services.AddSingleton<OutboxParkedGauge>();
        builder.Services.AddSingleton<RequestBodyBudget>();
        builder.Services.AddScoped<Outbox.Outbox>();
        if (builder.Configuration.GetConnectionString(StoreExtensions.PostgresConnectionName) is { Length: > 0 } postgres)
        {
            builder.Services.AddSingleton(_ => new OutboxWriter(postgres));
        }

        builder.Services.AddScoped<IdempotentRequests>();
        builder.Services.AddScoped<EmailAcceptor>();
        builder.Services.AddScoped<UnsentEmails>();
        builder.Services.AddSingleton<TemplateRenderer>();
        builder.Services.AddScoped<TemplateSending>();
        builder.Services.AddHostedService<OutboxPublisher>();
        builder.Services.AddHostedService<StoreJanitor>();
        builder.Services.AddStatusForwarding();
        return builder;
    }

    /// <summary>Registers the ingress's consumers (the <see cref="Contracts.CancelEmail"/> of bulk cancels); pass to <c>AddMessageBus</c>.</summary>
    public static IBusRegistrationConfigurator AddIngressConsumers(this IBusRegistrationConfigurator bus)
    {
        bus.AddConsumer<CancelEmailConsumer, CancelEmailConsumerDefinition>();
        return bus;
    }

    /// <summary>
    /// The ingress's per API key rate limit (its one filter instance, so the same buckets as the send routes) on a group
    /// of routes another service maps: the standalone host serves the status service's and the worker's routes itself,
    /// with no ingress in front to limit them. In distributed mode the ingress limits what it forwards instead.
    /// </summary>
    public static RouteGroupBuilder AddIngressRateLimit(this RouteGroupBuilder group, IEndpointRouteBuilder routes) =>
        group.AddRateLimit(routes);

    public static IEndpointRouteBuilder MapIngress(this IEndpointRouteBuilder routes)
    {
        // Made now rather than by the first JSON request: its gauges (and their zeros) are exported from the first scrape,
        // so a dashboard or an alert on them has a series before the first send.
        routes.ServiceProvider.GetRequiredService<RequestBodyBudget>();
        routes.MapSending();
        routes.MapApiKeys();
        routes.MapTemplates();
        if (routes.ServiceProvider.GetRequiredService<IOptions<IngressOptions>>().Value.StatusUrl is not null)
        {
            routes.MapStatusForwarding();
        }

        return routes;
    }
}
