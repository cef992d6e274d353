using EmailPlatform.Delivery.Relays;
using MassTransit;
using Microsoft.Extensions.Options;
using MimeKit;

namespace EmailPlatform.Delivery.Sending;

/// <summary>
/// Endpoint policy for <see cref="SendEmailConsumer"/>. SMTP replies and transport faults are outcomes, recorded and
/// published rather than thrown, so the retry here is for unexpected errors: a store conflict with a concurrent
/// claim, a store or broker hiccup, a failed publish after the outcome was recorded (the retry re-publishes the
/// recorded outcome and sends nothing). A few short tries, then the message faults to the error queue and
/// <see cref="SendEmailFaultConsumer"/> fails its unfinished recipients. Malformed input is not retried at all.
/// </summary>
internal sealed class SendEmailConsumerDefinition : ConsumerDefinition<SendEmailConsumer>
{
    public SendEmailConsumerDefinition(IOptions<DeliveryOptions> options)
    {
        // Each message in flight holds one pooled connection while it is sent, so the relay's connection limit is
        // this worker's concurrency limit: more would only wait for a connection while holding a broker message.
        ConcurrentMessageLimit = RelayRouter.Primary(options.Value).MaxConnections;
    }

    protected override void ConfigureConsumer(
        IReceiveEndpointConfigurator endpointConfigurator,
        IConsumerConfigurator<SendEmailConsumer> consumerConfigurator,
        IRegistrationContext context)
    {
        endpointConfigurator.UseMessageRetry(retry =>
        {
            retry.Intervals(TimeSpan.FromMilliseconds(200), TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(5));
            retry.Ignore<ParseException>();
            retry.Ignore<FormatException>();
            retry.Ignore<ArgumentException>();
        });
    }
}
