using EmailPlatform.Contracts;
using EmailPlatform.ServiceDefaults.Messaging;
using MassTransit;

namespace EmailPlatform.Ingress.Scheduling;

/// <summary>
/// The status service's bulk cancel, one email per <see cref="CancelEmail"/>: cancels it exactly as
/// <c>POST /v1/emails/{id}/cancel</c> does. An email that already left, was canceled before (a redelivered command
/// included), is unknown to this ingress or whose stored command cannot be read (parked, never sent) is left alone and
/// the outcome logged, so the command is safe to repeat and never retried for what no retry changes.
/// </summary>
internal sealed class CancelEmailConsumer(UnsentEmails unsent, ILogger<CancelEmailConsumer> logger) : IConsumer<CancelEmail>
{
    public async Task Consume(ConsumeContext<CancelEmail> context)
    {
        var outcome = await unsent.CancelAsync(context.Message.EmailId, context.CancellationToken);
        Log.CancelCommandHandled(logger, context.Message.EmailId, context.Message.CommandId, outcome);
    }
}

/// <summary>
/// The <c>cancel-email</c> endpoint: a few cancels at a time (each locks one email's outbox rows); other errors are
/// retried briefly in place before the message faults to the error queue. A store outage is waited for
/// (<see cref="StoreOutageRetry"/>) and, should it outlast that, the cancel goes back into its queue
/// (<see cref="StoreOutagePutBack"/>) rather than to the error queue, where a scheduled email it should have stopped
/// would be sent anyway.
/// </summary>
internal sealed class CancelEmailConsumerDefinition : ConsumerDefinition<CancelEmailConsumer>
{
    public CancelEmailConsumerDefinition() => ConcurrentMessageLimit = 8;

    protected override void ConfigureConsumer(
        IReceiveEndpointConfigurator endpointConfigurator, IConsumerConfigurator<CancelEmailConsumer> consumerConfigurator,
        IRegistrationContext context)
    {
        endpointConfigurator.UseStoreOutageRetry(context);
        endpointConfigurator.UseMessageRetry(r =>
        {
            r.Exponential(5, TimeSpan.FromMilliseconds(200), TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(200));
            r.IgnoreOutages();
        });
    }
}
