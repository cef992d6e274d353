using EmailPlatform.Delivery.Lanes;
using EmailPlatform.Delivery.Relays;
using EmailPlatform.ServiceDefaults.Messaging;
using MassTransit;
using Microsoft.Extensions.Options;
using MimeKit;

namespace EmailPlatform.Delivery.Sending;

/// <summary>
/// Endpoint policy for one lane's <see cref="SendEmailConsumer{TLane}"/>: the endpoint is the lane's queue
/// (<see cref="DeliveryLanes"/>), with the lane's concurrency and prefetch (<c>Delivery:Lanes</c>). It does not subscribe
/// to published <c>SendEmail</c> (no consume topology): the command is sent into one lane, and a publish bound to all
/// three queues would send every email three times over.
/// </summary>
/// <remarks>
/// SMTP replies and transport faults are outcomes, recorded and published rather than thrown, so the retry here is
/// for unexpected errors: a store conflict with a concurrent claim, a broker hiccup, a failed publish after the outcome
/// was recorded (the retry re-publishes the recorded outcome and sends nothing), a claim that lapsed before
/// <c>MAIL FROM</c> (the retry claims the recipients handed back, or leaves them to the worker that holds them now). A few short tries, then the message
/// faults to the lane's error queue and <see cref="SendEmailFaultConsumer"/> fails its unfinished recipients. Malformed
/// input is not retried at all. A store that cannot be reached is waited for instead, for about
/// <see cref="StoreOutageRetry.Span"/> (<see cref="StoreOutageRetry.UseStoreOutageRetryThenFault"/>): no recipient fails
/// because the store was down. A command still waiting after that faults, and <see cref="SendEmailFaultConsumer"/> puts
/// it back into its lane (a copy stays in the lane's error queue).
/// </remarks>
internal sealed class SendEmailConsumerDefinition<TLane> : ConsumerDefinition<SendEmailConsumer<TLane>>
    where TLane : IDeliveryLane
{
    public SendEmailConsumerDefinition(IOptions<DeliveryOptions> options)
    {
        var lane = options.Value.Lanes.For(TLane.Priority);
        var connections = RelayRouter.Primary(options.Value).MaxConnections;
        var concurrency = lane.EffectiveConcurrency(connections);
        var queue = DeliveryLanes.QueueName(TLane.Priority);
        EndpointName = queue;
        ConcurrentMessageLimit = concurrency;
        Endpoint(endpoint =>
        {
            endpoint.Name = queue;
            endpoint.ConfigureConsumeTopology = false;
            endpoint.ConcurrentMessageLimit = concurrency;
            endpoint.PrefetchCount = lane.EffectivePrefetch(connections);
        });
    }

    protected override void ConfigureConsumer(
        IReceiveEndpointConfigurator endpointConfigurator,
        IConsumerConfigurator<SendEmailConsumer<TLane>> consumerConfigurator,
        IRegistrationContext context)
    {
        endpointConfigurator.UseStoreOutageRetryThenFault(context);
        endpointConfigurator.UseMessageRetry(retry =>
        {
            retry.Intervals(TimeSpan.FromMilliseconds(200), TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(5));
            retry.IgnoreOutages();
            retry.Ignore<ParseException>();
            retry.Ignore<FormatException>();
            retry.Ignore<ArgumentException>();
        });
    }
}
