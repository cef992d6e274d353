using EmailPlatform.ServiceDefaults.Messaging;
using MassTransit;

namespace EmailPlatform.Delivery.Sending;

/// <summary>
/// Retries through short outages of the broker or the store; a fault that still finds the store out of reach after
/// <see cref="StoreOutageRetry"/> goes back into this endpoint's queue (<see cref="StoreOutagePutBack"/>), so its
/// recipients are still failed (or its command put back into its lane) once the store is back. What still fails for
/// another reason stays in this consumer's error queue.
/// </summary>
internal sealed class SendEmailFaultConsumerDefinition : ConsumerDefinition<SendEmailFaultConsumer>
{
    protected override void ConfigureConsumer(
        IReceiveEndpointConfigurator endpointConfigurator,
        IConsumerConfigurator<SendEmailFaultConsumer> consumerConfigurator,
        IRegistrationContext context)
    {
        endpointConfigurator.UseStoreOutageRetry(context);
        endpointConfigurator.UseMessageRetry(retry =>
        {
            retry.Intervals(TimeSpan.FromMilliseconds(200), TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(15));
            retry.IgnoreOutages();
        });
    }
}
