using EmailPlatform.ServiceDefaults.Messaging;
using MassTransit;

namespace EmailPlatform.Delivery.Sending;

/// <summary>Retries through short outages of the broker or the store; what still fails stays in this consumer's error queue.</summary>
internal sealed class SendEmailFaultConsumerDefinition : ConsumerDefinition<SendEmailFaultConsumer>
{
    protected override void ConfigureConsumer(
        IReceiveEndpointConfigurator endpointConfigurator,
        IConsumerConfigurator<SendEmailFaultConsumer> consumerConfigurator,
        IRegistrationContext context)
    {
        endpointConfigurator.UseStoreOutageRetry();
        endpointConfigurator.UseMessageRetry(retry =>
        {
            retry.Intervals(TimeSpan.FromMilliseconds(200), TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(15));
            retry.IgnoreOutages();
        });
    }
}
