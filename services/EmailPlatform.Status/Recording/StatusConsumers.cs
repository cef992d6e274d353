using EmailPlatform.Contracts;
using EmailPlatform.ServiceDefaults.Storage;
using EmailPlatform.Status.Storage;
using MassTransit;

namespace EmailPlatform.Status.Recording;

/// <summary>
/// Records what the ingress did with an email: accepted, queued, rescheduled, canceled. An email sent at once comes as
/// one message, its <see cref="EmailAccepted"/> carrying its <see cref="EmailQueued"/> (<see cref="EmailAccepted.Queued"/>),
/// and both events are recorded together. Bodies too large for the bus (<see cref="EmailAccepted.StoredBody"/>) are read
/// from the content store first; if it no longer has them (the event waited longer than
/// <c>Ingress:StoredContentRetention</c>), the email is recorded without them.
/// </summary>
/// <remarks>
/// The store is resolved from the message's scope only for such an email: a context made for every message and
/// almost never used cost 3 of the 40 KB allocated per recorded event (<c>bench/status.sh</c>).
/// </remarks>
public sealed class EmailLifecycleConsumer(StatusEventWriter writer, IServiceProvider scope) :
    IConsumer<EmailAccepted>, IConsumer<EmailQueued>, IConsumer<EmailRescheduled>, IConsumer<EmailCanceled>
{
    public async Task Consume(ConsumeContext<EmailAccepted> context)
    {
        var accepted = context.Message;
        if (accepted.StoredBody is { } stored
            && await StoredContents.LoadBodiesAsync(scope.GetRequiredService<StatusDbContext>(), stored, context.CancellationToken) is { } bodies)
        {
            accepted = accepted with { Html = bodies.Html, Text = bodies.Text };
        }

        await writer.RecordAsync(accepted.Queued is { } queued ? [accepted, queued] : [accepted], context.CancellationToken);
    }

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
