using EmailPlatform.Delivery.Relays;
using MassTransit;
using Microsoft.Extensions.Options;
using MimeKit;

namespace EmailPlatform.Delivery.Sending;

/// <summary>
/// Endpoint policy for <see cref="SendEmailConsumer"/>. SMTP replies and transport faults are outcomes, published
/// rather than thrown, so the retry here is only for unexpected errors before the relay is reached: a few short
/// tries, then the message faults to the error queue. Malformed input is not retried at all, and neither is a
/// failure after the relay answered (that retry would send the message twice).
/// </summary>
internal sealed class SendEmailConsumerDefinition : ConsumerDefinition<SendEmailConsumer>
{
    public SendEmailConsumerDefinition(IOptions<DeliveryOptions> options)
    {
        // One SMTP connection per message in flight (no pooling yet), so the relay's connection limit is
        // this worker's concurrency limit.
        ConcurrentMessageLimit = RelayPicker.Primary(options.Value).MaxConnections;
    }

    protected override void ConfigureConsumer(
        IReceiveEndpointConfigurator endpointConfigurator,
        IConsumerConfigurator<SendEmailConsumer> consumerConfigurator,
        IRegistrationContext context)
    {
        endpointConfigurator.UseMessageRetry(retry =>
        {
            retry.Intervals(TimeSpan.FromMilliseconds(200), TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(5));
            retry.Ignore<OutcomeNotPublishedException>();
            retry.Ignore<ParseException>();
            retry.Ignore<FormatException>();
            retry.Ignore<ArgumentException>();
        });
    }
}
