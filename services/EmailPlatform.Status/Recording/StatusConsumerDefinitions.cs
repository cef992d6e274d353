using EmailPlatform.ServiceDefaults.Messaging;
using MassTransit;
using Microsoft.Extensions.Options;

namespace EmailPlatform.Status.Recording;

/// <summary>
/// Endpoint policy shared by the status consumers. Many messages are taken at once (each waits for the commit of the
/// batch it joined in <see cref="StatusEventWriter"/>), and the broker's prefetch matches, so a batch can fill while
/// the previous one commits. A failed write is retried with jittered exponential back-off, except an event that failed
/// on its own for a reason another try cannot change (<see cref="UnrecordableEventException"/>), which faults at once;
/// a store that cannot be reached is waited for, for about
/// <see cref="StoreOutageRetry.Span"/> (<see cref="StoreOutageRetry"/>), and an event that still finds it out of reach
/// goes back to the tail of its queue to wait again (<see cref="StoreOutagePutBack"/>), so a long outage leaves no email
/// <c>sending</c> for good and no webhook unsent. What still fails for another reason goes to the error queue as a
/// fault, never acknowledged and lost.
/// </summary>
internal static class StatusEndpointPolicy
{
    public static void Apply(IReceiveEndpointConfigurator endpoint, RecordingOptions options, IRegistrationContext context)
    {
        endpoint.ConcurrentMessageLimit = options.ConcurrentMessageLimit;
        endpoint.PrefetchCount = options.ConcurrentMessageLimit;
        endpoint.UseStoreOutageRetry(context);
        endpoint.UseMessageRetry(r =>
        {
            r.Exponential(10, TimeSpan.FromMilliseconds(20), TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(100));
            r.Ignore<UnrecordableEventException>();
            r.IgnoreOutages();
        });
    }
}

public sealed class EmailLifecycleConsumerDefinition(IOptions<RecordingOptions> options) : ConsumerDefinition<EmailLifecycleConsumer>
{
    protected override void ConfigureConsumer(IReceiveEndpointConfigurator endpointConfigurator,
        IConsumerConfigurator<EmailLifecycleConsumer> consumerConfigurator, IRegistrationContext context) =>
        StatusEndpointPolicy.Apply(endpointConfigurator, options.Value, context);
}

public sealed class RecipientOutcomeConsumerDefinition(IOptions<RecordingOptions> options) : ConsumerDefinition<RecipientOutcomeConsumer>
{
    protected override void ConfigureConsumer(IReceiveEndpointConfigurator endpointConfigurator,
        IConsumerConfigurator<RecipientOutcomeConsumer> consumerConfigurator, IRegistrationContext context) =>
        StatusEndpointPolicy.Apply(endpointConfigurator, options.Value, context);
}
