using MassTransit;

namespace EmailPlatform.Status.Recording;

/// <summary>
/// Both status consumers retry quickly on write conflicts (two events for one email at once) and ride out
/// short store outages; what still fails goes to the error queue as a fault, never acknowledged and lost.
/// </summary>
internal static class StatusRetry
{
    public static void Apply(IReceiveEndpointConfigurator endpoint) =>
        endpoint.UseMessageRetry(r => r.Intervals(20, 50, 100, 250, 500, 1000, 2000, 5000, 10000));
}

public sealed class EmailLifecycleConsumerDefinition : ConsumerDefinition<EmailLifecycleConsumer>
{
    protected override void ConfigureConsumer(IReceiveEndpointConfigurator endpointConfigurator,
        IConsumerConfigurator<EmailLifecycleConsumer> consumerConfigurator, IRegistrationContext context) =>
        StatusRetry.Apply(endpointConfigurator);
}

public sealed class RecipientOutcomeConsumerDefinition : ConsumerDefinition<RecipientOutcomeConsumer>
{
    protected override void ConfigureConsumer(IReceiveEndpointConfigurator endpointConfigurator,
        IConsumerConfigurator<RecipientOutcomeConsumer> consumerConfigurator, IRegistrationContext context) =>
        StatusRetry.Apply(endpointConfigurator);
}
