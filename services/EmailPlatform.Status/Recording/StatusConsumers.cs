using EmailPlatform.Contracts;
using MassTransit;

namespace EmailPlatform.Status.Recording;

/// <summary>Records what the ingress did with an email: accepted, queued, rescheduled, canceled.</summary>
public sealed class EmailLifecycleConsumer(StatusEventWriter writer) :
    IConsumer<EmailAccepted>, IConsumer<EmailQueued>, IConsumer<EmailRescheduled>, IConsumer<EmailCanceled>
{
    public Task Consume(ConsumeContext<EmailAccepted> context) => writer.RecordAsync(context.Message, context.CancellationToken);

    public Task Consume(ConsumeContext<EmailQueued> context) => writer.RecordAsync(context.Message, context.CancellationToken);

    public Task Consume(ConsumeContext<EmailRescheduled> context) => writer.RecordAsync(context.Message, context.CancellationToken);

    public Task Consume(ConsumeContext<EmailCanceled> context) => writer.RecordAsync(context.Message, context.CancellationToken);
}

/// <summary>Records what the delivery workers observed, one recipient per event.</summary>
public sealed class RecipientOutcomeConsumer(StatusEventWriter writer) :
    IConsumer<EmailDelivered>, IConsumer<EmailDeferred>, IConsumer<EmailBounced>, IConsumer<EmailFailed>, IConsumer<EmailSuppressed>
{
    public Task Consume(ConsumeContext<EmailDelivered> context) => writer.RecordAsync(context.Message, context.CancellationToken);

    public Task Consume(ConsumeContext<EmailDeferred> context) => writer.RecordAsync(context.Message, context.CancellationToken);

    public Task Consume(ConsumeContext<EmailBounced> context) => writer.RecordAsync(context.Message, context.CancellationToken);

    public Task Consume(ConsumeContext<EmailFailed> context) => writer.RecordAsync(context.Message, context.CancellationToken);

    public Task Consume(ConsumeContext<EmailSuppressed> context) => writer.RecordAsync(context.Message, context.CancellationToken);
}
