using EmailPlatform.Contracts;
using EmailPlatform.ServiceDefaults.Messaging;
using MassTransit;

namespace EmailPlatform.Delivery.Retries;

/// <summary>Takes an operator's <see cref="RetryRecipients"/> off the bus and hands it to <see cref="RecipientRetries"/>.</summary>
internal sealed class RetryRecipientsConsumer(RecipientRetries retries) : IConsumer<RetryRecipients>
{
    public Task Consume(ConsumeContext<RetryRecipients> context) => retries.RetryAsync(context.Message, context.CancellationToken);
}

/// <summary>
/// The <c>retry-recipients</c> endpoint subscribes to published <see cref="RetryRecipients"/>, so the status service
/// may publish it (or send it to <c>exchange:retry-recipients</c>); one replica carries each command out. A store
/// conflict with a worker recording an outcome for the same recipient at that moment is retried from scratch; a store
/// outage is waited for (<see cref="StoreOutageRetry"/>), however long: a command that outlasts the wait goes back into
/// its queue (<see cref="StoreOutagePutBack"/>).
/// </summary>
internal sealed class RetryRecipientsConsumerDefinition : ConsumerDefinition<RetryRecipientsConsumer>
{
    protected override void ConfigureConsumer(
        IReceiveEndpointConfigurator endpointConfigurator,
        IConsumerConfigurator<RetryRecipientsConsumer> consumerConfigurator,
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
