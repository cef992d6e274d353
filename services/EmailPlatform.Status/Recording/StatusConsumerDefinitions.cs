using EmailPlatform.Contracts;
using MassTransit;

namespace EmailPlatform.Status.Recording;

/// <summary>
/// Endpoint policy shared by the status consumers. Events for one email are partitioned by email id, so within
/// a replica they are recorded one at a time and never race on the email's row; across replicas a write
/// conflict is retried with jittered exponential back-off, which also rides out short store outages. What
/// still fails goes to the error queue as a fault, never acknowledged and lost.
/// </summary>
internal static class StatusEndpointPolicy
{
    public const int ConcurrentMessageLimit = 16;

    public static void Apply(IReceiveEndpointConfigurator endpoint) =>
        endpoint.UseMessageRetry(r => r.Exponential(10, TimeSpan.FromMilliseconds(20), TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(100)));

    public static void PartitionByEmail<TConsumer, TMessage>(IConsumerConfigurator<TConsumer> consumer, IPartitioner partitioner)
        where TConsumer : class
        where TMessage : class
    {
        consumer.Message<TMessage>(m => m.UsePartitioner(partitioner, context => EmailIdOf(context.Message)));
    }

    private static Guid EmailIdOf(object message) => message switch
    {
        EmailAccepted m => m.EmailId,
        EmailQueued m => m.EmailId,
        EmailRescheduled m => m.EmailId,
        EmailCanceled m => m.EmailId,
        IRecipientOutcome m => m.EmailId,
        _ => Guid.Empty,
    };
}

public sealed class EmailLifecycleConsumerDefinition : ConsumerDefinition<EmailLifecycleConsumer>
{
    public EmailLifecycleConsumerDefinition() => ConcurrentMessageLimit = StatusEndpointPolicy.ConcurrentMessageLimit;

    protected override void ConfigureConsumer(IReceiveEndpointConfigurator endpointConfigurator,
        IConsumerConfigurator<EmailLifecycleConsumer> consumerConfigurator, IRegistrationContext context)
    {
        StatusEndpointPolicy.Apply(endpointConfigurator);
        var partitioner = endpointConfigurator.CreatePartitioner(StatusEndpointPolicy.ConcurrentMessageLimit);
        StatusEndpointPolicy.PartitionByEmail<EmailLifecycleConsumer, EmailAccepted>(consumerConfigurator, partitioner);
        StatusEndpointPolicy.PartitionByEmail<EmailLifecycleConsumer, EmailQueued>(consumerConfigurator, partitioner);
        StatusEndpointPolicy.PartitionByEmail<EmailLifecycleConsumer, EmailRescheduled>(consumerConfigurator, partitioner);
        StatusEndpointPolicy.PartitionByEmail<EmailLifecycleConsumer, EmailCanceled>(consumerConfigurator, partitioner);
    }
}

public sealed class RecipientOutcomeConsumerDefinition : ConsumerDefinition<RecipientOutcomeConsumer>
{
    public RecipientOutcomeConsumerDefinition() => ConcurrentMessageLimit = StatusEndpointPolicy.ConcurrentMessageLimit;

    protected override void ConfigureConsumer(IReceiveEndpointConfigurator endpointConfigurator,
        IConsumerConfigurator<RecipientOutcomeConsumer> consumerConfigurator, IRegistrationContext context)
    {
        StatusEndpointPolicy.Apply(endpointConfigurator);
        var partitioner = endpointConfigurator.CreatePartitioner(StatusEndpointPolicy.ConcurrentMessageLimit);
        StatusEndpointPolicy.PartitionByEmail<RecipientOutcomeConsumer, EmailDelivered>(consumerConfigurator, partitioner);
        StatusEndpointPolicy.PartitionByEmail<RecipientOutcomeConsumer, EmailDeferred>(consumerConfigurator, partitioner);
        StatusEndpointPolicy.PartitionByEmail<RecipientOutcomeConsumer, EmailBounced>(consumerConfigurator, partitioner);
        StatusEndpointPolicy.PartitionByEmail<RecipientOutcomeConsumer, EmailFailed>(consumerConfigurator, partitioner);
        StatusEndpointPolicy.PartitionByEmail<RecipientOutcomeConsumer, EmailSuppressed>(consumerConfigurator, partitioner);
    }
}
