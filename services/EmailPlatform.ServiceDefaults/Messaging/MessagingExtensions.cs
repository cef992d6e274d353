using EmailPlatform.ServiceDefaults.Shutdown;
using MassTransit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace EmailPlatform.ServiceDefaults.Messaging;

public static class MessagingExtensions
{
    public const string ConnectionStringName = "RabbitMq";

    /// <summary>
    /// The bus: RabbitMQ when <c>ConnectionStrings:RabbitMq</c> (an amqp URI) is set, with publisher
    /// confirms, durable quorum queues and kebab-case endpoint names. Only a single-process host may fall
    /// back to the in-memory transport (<paramref name="allowInMemory"/>); a distributed service without a
    /// broker would silently lose mail, so it refuses to start instead. A service that keeps doing its job
    /// while the broker is down (the ingress accepts into its outbox; the status service serves reads and the
    /// workers' suppression lookups from its store) passes <paramref name="readyWithoutBroker"/> so its
    /// readiness does not depend on the broker. With <paramref name="topologyOnly"/> (a <c>migrate</c> step), the bus
    /// only declares the service's queues and bindings, through <see cref="BusTopology.DeployBusTopologyAsync"/>.
    /// </summary>
    public static IHostApplicationBuilder AddMessageBus(
        this IHostApplicationBuilder builder,
        Action<IBusRegistrationConfigurator> registerConsumers,
        bool allowInMemory = false,
        bool readyWithoutBroker = false,
        bool topologyOnly = false)
    {
        var rabbitMq = builder.Configuration.GetConnectionString(ConnectionStringName);
        if (string.IsNullOrWhiteSpace(rabbitMq) && !allowInMemory)
        {
            // Fails when the host starts, naming the key; a one-shot command such as 'migrate' (which builds the
            // host but never starts it) runs without one (the status service's then migrates its store only).
            builder.Services.AddOptions<MassTransitHostOptions>()
                .Validate(_ => false,
                    $"ConnectionStrings:{ConnectionStringName} is required: set it (env ConnectionStrings__{ConnectionStringName}) to an amqp URI such as amqp://user:password@rabbitmq:5672/.")
                .ValidateOnStart();
        }
        else if (!string.IsNullOrWhiteSpace(rabbitMq) && !IsAmqpUri(rabbitMq))
        {
            // Otherwise 'new Uri' fails when the bus is built, with "Invalid URI" and no word of where the value came from.
            builder.Services.AddOptions<MassTransitHostOptions>()
                .Validate(_ => false,
                    $"ConnectionStrings:{ConnectionStringName} must be an amqp or amqps URI such as amqp://user:password@rabbitmq:5672/ (env ConnectionStrings__{ConnectionStringName}), not a key=value connection string.")
                .ValidateOnStart();
        }

        builder.Services.AddMassTransit(bus =>
        {
            bus.SetKebabCaseEndpointNameFormatter();
            bus.ConfigureHealthCheckOptions(h =>
            {
                h.Tags.Clear();
                h.Tags.Add("masstransit");
                if (!readyWithoutBroker)
                {
                    h.Tags.Add(Extensions.ReadyTag);
                }
            });
            // A self-hosted product does not report to anyone: MassTransit would otherwise send usage telemetry to its
            // authors (MASSTRANSIT_USAGE_TELEMETRY=true turns it back on, should an operator want to).
            bus.DisableUsageTelemetry();
            registerConsumers(bus);

            if (string.IsNullOrWhiteSpace(rabbitMq))
            {
                bus.UsingInMemory((context, cfg) => cfg.ConfigureEndpoints(context));
                return;
            }

            bus.AddConfigureEndpointsCallback((_, _, endpoint) =>
            {
                if (endpoint is IRabbitMqReceiveEndpointConfigurator rabbit)
                {
                    rabbit.SetQuorumQueue();
                }
            });
            bus.UsingRabbitMq((context, cfg) =>
            {
                cfg.Host(new Uri(rabbitMq), host => host.PublisherConfirmation = true);
                // Reads MassTransit's JSON envelope without copying each message's bytes three times (JsonEnvelopeDeserializer);
                // messages are still written by MassTransit's own serializer.
                cfg.AddDeserializer(new JsonEnvelopeDeserializerFactory(), isDefault: true);
                cfg.DeployTopologyOnly = topologyOnly;
                cfg.ConfigureEndpoints(context);
            });
        });

        builder.Services.AddSingleton(string.IsNullOrWhiteSpace(rabbitMq) ? BusTransport.InMemory : BusTransport.RabbitMq);
        BoundStop(builder.Services);
        builder.Services.AddOptions<MassTransitHostOptions>().Configure<IOptions<ShutdownOptions>>((o, shutdown) =>
        {
            // Start without waiting for the broker: the ingress keeps accepting into its outbox while
            // RabbitMQ is down. Stop by letting in-flight consumers finish, within the host's shutdown timeout
            // (Shutdown:Timeout, 30 s): consumers are cancelled after 20 s, the bus has stopped by 25 s, and the host
            // waits for it 27 s at most (BoundedBusStop).
            o.WaitUntilStarted = false;
            o.StopTimeout = shutdown.Value.BusStopTimeout;
            o.ConsumerStopTimeout = shutdown.Value.ConsumerStopTimeout;
        });
        return builder;
    }

    /// <summary>
    /// The broker URI as the RabbitMQ client takes it (the queue depth reader uses one directly): MassTransit's
    /// <c>rabbitmq://</c> and <c>rabbitmqs://</c>, which this key accepts too, as <c>amqp://</c> and <c>amqps://</c>, the
    /// same host, port, credentials and virtual host.
    /// </summary>
    public static Uri AmqpUri(string connectionString)
    {
        var uri = new Uri(connectionString);
        return uri.Scheme switch
        {
            "rabbitmq" => new UriBuilder(uri) { Scheme = "amqp", Port = uri.IsDefaultPort ? -1 : uri.Port }.Uri,
            "rabbitmqs" => new UriBuilder(uri) { Scheme = "amqps", Port = uri.IsDefaultPort ? -1 : uri.Port }.Uri,
            _ => uri,
        };
    }

    private static bool IsAmqpUri(string value) =>
        Uri.TryCreate(value, UriKind.Absolute, out var uri) && uri.Host.Length > 0
        && uri.Scheme is "amqp" or "amqps" or "rabbitmq" or "rabbitmqs"; // the schemes MassTransit's Host(Uri) takes

    /// <summary>
    /// Puts <see cref="BoundedBusStop"/> where MassTransit registered its hosted service, so that the bus still starts
    /// before the services registered after it and stops after them.
    /// </summary>
    private static void BoundStop(IServiceCollection services)
    {
        var index = services.ToList().FindIndex(d => d.ServiceType == typeof(IHostedService) && d.ImplementationType == typeof(MassTransitHostedService));
        if (index < 0)
        {
            return;
        }

        services.TryAddSingleton<MassTransitHostedService>();
        services[index] = ServiceDescriptor.Singleton<IHostedService>(sp => ActivatorUtilities.CreateInstance<BoundedBusStop>(sp));
    }
}
