using EmailPlatform.Delivery.Claims;
using EmailPlatform.Delivery.Relays;
using EmailPlatform.Delivery.Retries;
using EmailPlatform.Delivery.Sending;
using EmailPlatform.Delivery.Smtp;
using EmailPlatform.Delivery.Storage;
using EmailPlatform.Delivery.Suppressions;
using EmailPlatform.ServiceDefaults.Storage;
using MassTransit;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace EmailPlatform.Delivery;

/// <summary>The delivery worker's pieces, for its own host and for the standalone host.</summary>
public static class DeliveryExtensions
{
    /// <summary>
    /// Binds and validates <c>Delivery</c> (fails at start naming the bad key), registers the delivery store
    /// (<c>ConnectionStrings:Postgres</c>, or <c>ConnectionStrings:Sqlite</c> standalone; migrate it with
    /// <c>MigrateStoreAsync&lt;DeliveryDbContext&gt;()</c>), the sender and the retry scheduler. When
    /// <c>Delivery:StatusUrl</c> is set, recipients are checked against the status service's suppression list
    /// (<see cref="ISuppressionList"/>, cached for <c>Delivery:SuppressionCacheDuration</c>); a host may register its
    /// own <see cref="ISuppressionList"/> instead, before or after this call.
    /// </summary>
    public static IHostApplicationBuilder AddDelivery(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<DeliveryOptions>()
            .BindConfiguration(DeliveryOptions.SectionName)
            .PostConfigure(options =>
            {
                foreach (var relay in options.Relays.Where(r => string.IsNullOrWhiteSpace(r.Name)))
                {
                    relay.Name = relay.Host;
                }
            })
            .ValidateOnStart();
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<DeliveryOptions>, DeliveryOptionsValidator>());

        builder.Services.AddMetrics();
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.TryAddSingleton<DeliveryMetrics>();
        builder.Services.TryAddSingleton<RelayRouter>();
        builder.Services.TryAddSingleton<Dkim.DkimSigning>();
        builder.Services.TryAddSingleton<SmtpConnectionPools>();
        builder.Services.TryAddSingleton<SmtpRelayClient>();
        builder.AddStore<DeliveryDbContext, PostgresDeliveryDbContext, SqliteDeliveryDbContext>(DeliveryDbContext.MigrationsHistoryTable);
        builder.Services.TryAddSingleton<RetrySignal>();
        builder.Services.TryAddScoped<DeliveryLedger>();
        builder.Services.TryAddScoped<EmailSender>();
        if (!string.IsNullOrWhiteSpace(builder.Configuration[$"{DeliveryOptions.SectionName}:{nameof(DeliveryOptions.StatusUrl)}"]))
        {
            builder.Services.AddHttpSuppressionList();
        }

        builder.Services.AddHostedService<RetryScheduler>();
        return builder;
    }

    /// <summary>Registers the <c>SendEmail</c> consumer; pass to <c>AddMessageBus</c>.</summary>
    public static IBusRegistrationConfigurator AddDeliveryConsumers(this IBusRegistrationConfigurator bus)
    {
        bus.AddConsumer<SendEmailConsumer, SendEmailConsumerDefinition>();
        bus.AddConsumer<SendEmailFaultConsumer, SendEmailFaultConsumerDefinition>();
        return bus;
    }

    /// <summary>Maps <c>GET /v1/relays</c> (API key required) and returns its group.</summary>
    public static RouteGroupBuilder MapDelivery(this IEndpointRouteBuilder endpoints) => endpoints.MapRelays();
}
