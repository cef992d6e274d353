using EmailPlatform.Delivery.Claims;
using EmailPlatform.Delivery.Lanes;
using EmailPlatform.Delivery.Monitoring;
using EmailPlatform.Delivery.Relays;
using EmailPlatform.Delivery.Retries;
using EmailPlatform.Delivery.Sending;
using EmailPlatform.Delivery.Smtp;
using EmailPlatform.Delivery.Storage;
using EmailPlatform.Delivery.Suppressions;
using EmailPlatform.ServiceDefaults.Messaging;
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
        builder.Services.TryAddSingleton<RecordingWindow>();
        builder.Services.TryAddSingleton<ContentBudget>();
        builder.AddStore<DeliveryDbContext, PostgresDeliveryDbContext, SqliteDeliveryDbContext>(DeliveryDbContext.MigrationsHistoryTable, pooled: true);
        if (builder.Configuration.GetConnectionString(StoreExtensions.PostgresConnectionName) is { Length: > 0 } postgres)
        {
            builder.Services.TryAddSingleton(_ => new LedgerWrites(postgres));
        }

        builder.Services.TryAddSingleton<RetrySignal>();
        builder.Services.TryAddScoped<DeliveryLedger>();
        builder.Services.TryAddScoped<EmailSender>();
        builder.Services.TryAddScoped<RecipientRetries>();
        if (!string.IsNullOrWhiteSpace(builder.Configuration[$"{DeliveryOptions.SectionName}:{nameof(DeliveryOptions.StatusUrl)}"]))
        {
            builder.Services.AddHttpSuppressionList();
        }

        builder.Services.AddHostedService<SuppressionListCheck>();

        builder.Services.AddHostedService<RetryScheduler>();

        if (builder.Configuration.GetConnectionString(MessagingExtensions.ConnectionStringName) is { Length: > 0 } rabbitMq)
        {
            builder.Services.TryAddSingleton(_ => new LaneDepths(MessagingExtensions.AmqpUri(rabbitMq)));
        }

        builder.Services.TryAddSingleton<DeliveryGauges>();
        builder.Services.AddHostedService(services => services.GetRequiredService<DeliveryGauges>());
        return builder;
    }

    /// <summary>
    /// Registers the consumers; pass to <c>AddMessageBus</c>. <c>SendEmail</c> is consumed once per priority lane, each
    /// on its own receive endpoint (<c>send-email-high</c>, <c>send-email-normal</c>, <c>send-email-bulk</c>, see
    /// <see cref="ServiceDefaults.Messaging.DeliveryLanes"/>); <c>RetryRecipients</c> on <c>retry-recipients</c>.
    /// </summary>
    public static IBusRegistrationConfigurator AddDeliveryConsumers(this IBusRegistrationConfigurator bus)
    {
        bus.AddConsumer<SendEmailConsumer<HighLane>, SendEmailConsumerDefinition<HighLane>>();
        bus.AddConsumer<SendEmailConsumer<NormalLane>, SendEmailConsumerDefinition<NormalLane>>();
        bus.AddConsumer<SendEmailConsumer<BulkLane>, SendEmailConsumerDefinition<BulkLane>>();
        bus.AddConsumer<SendEmailFaultConsumer, SendEmailFaultConsumerDefinition>();
        bus.AddConsumer<RetryRecipientsConsumer, RetryRecipientsConsumerDefinition>();
        return bus;
    }

    /// <summary>Maps <c>GET /v1/relays</c> (API key required) and returns its group.</summary>
    public static RouteGroupBuilder MapDelivery(this IEndpointRouteBuilder endpoints) => endpoints.MapRelays();
}
