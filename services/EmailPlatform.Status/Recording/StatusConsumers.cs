using EmailPlatform.Contracts;
using EmailPlatform.Status.Storage;
using MassTransit;

namespace EmailPlatform.Status.Recording;

/// <summary>Records what the ingress did with an email: accepted, queued, rescheduled, canceled.</summary>
public sealed class EmailLifecycleConsumer(StatusRecorder recorder) :
    IConsumer<EmailAccepted>, IConsumer<EmailQueued>, IConsumer<EmailRescheduled>, IConsumer<EmailCanceled>
{
    public Task Consume(ConsumeContext<EmailAccepted> context) => recorder.RecordAcceptedAsync(context.Message, context.CancellationToken);

    public Task Consume(ConsumeContext<EmailQueued> context) => recorder.RecordQueuedAsync(context.Message, context.CancellationToken);

    public Task Consume(ConsumeContext<EmailRescheduled> context) => recorder.RecordRescheduledAsync(context.Message, context.CancellationToken);

    public Task Consume(ConsumeContext<EmailCanceled> context) => recorder.RecordCanceledAsync(context.Message, context.CancellationToken);
}

/// <summary>Records what the delivery workers observed, one recipient per event.</summary>
public sealed class RecipientOutcomeConsumer(StatusRecorder recorder) :
    IConsumer<EmailDelivered>, IConsumer<EmailDeferred>, IConsumer<EmailBounced>, IConsumer<EmailFailed>, IConsumer<EmailSuppressed>
{
    public Task Consume(ConsumeContext<EmailDelivered> context) =>
        recorder.RecordOutcomeAsync(context.Message, EmailState.Delivered, null, null, context.CancellationToken);

    public Task Consume(ConsumeContext<EmailDeferred> context) =>
        recorder.RecordOutcomeAsync(context.Message, EmailState.Deferred, context.Message.Reason, context.Message.NextAttemptAt, context.CancellationToken);

    public Task Consume(ConsumeContext<EmailBounced> context) =>
        recorder.RecordOutcomeAsync(context.Message, EmailState.Bounced, null, null, context.CancellationToken);

    public Task Consume(ConsumeContext<EmailFailed> context) =>
        recorder.RecordOutcomeAsync(context.Message, EmailState.Failed, context.Message.Reason, null, context.CancellationToken);

    public Task Consume(ConsumeContext<EmailSuppressed> context) =>
        recorder.RecordOutcomeAsync(context.Message, EmailState.Suppressed, context.Message.Reason, null, context.CancellationToken);
}
