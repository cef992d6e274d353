using EmailPlatform.Contracts;
using EmailPlatform.Status.Complaints;

namespace EmailPlatform.Status.Recording;

/// <summary>
/// One event to record, as it came off the bus, with the W3C trace id of the consume that received it (the email's
/// trace, kept on the email when the event is its <see cref="EmailAccepted"/>) and that consume's W3C
/// <c>traceparent</c>, kept on the webhook deliveries the event causes so that each is a span in the email's trace.
/// </summary>
public sealed record StatusEvent(object Message, string? TraceId = null, string? TraceParent = null)
{
    public Guid EventId => Message switch
    {
        EmailAccepted m => m.EventId,
        EmailQueued m => m.EventId,
        EmailRescheduled m => m.EventId,
        EmailCanceled m => m.EventId,
        IRecipientOutcome m => m.EventId,
        ReportedComplaint m => m.EventId,
        _ => throw Unknown(),
    };

    public Guid EmailId => Message switch
    {
        EmailAccepted m => m.EmailId,
        EmailQueued m => m.EmailId,
        EmailRescheduled m => m.EmailId,
        EmailCanceled m => m.EmailId,
        IRecipientOutcome m => m.EmailId,
        ReportedComplaint m => m.EmailId,
        _ => throw Unknown(),
    };

    private ArgumentException Unknown() => new($"{Message.GetType().Name} is not an event the status service records.", nameof(Message));
}
