using EmailPlatform.Contracts;
using EmailPlatform.Delivery.Smtp;
using EmailPlatform.Delivery.Storage;
using MassTransit;

namespace EmailPlatform.Delivery.Claims;

/// <summary>
/// The outcome event of a recorded recipient, rebuilt from its record: publishing it again gives the same event id,
/// so the status service records it once however often it is published.
/// </summary>
internal static class RecordedOutcomes
{
    public static Task PublishAsync(IPublishEndpoint publisher, DeliveryRecord record, CancellationToken cancellationToken = default)
    {
        var eventId = record.OutcomeEventId ?? throw new InvalidOperationException($"Email {record.EmailId} has a recipient without a recorded outcome.");
        var at = new DateTimeOffset(record.OutcomeAt ?? record.UpdatedAt, TimeSpan.Zero);
        var reply = record.ReplyCode is { } code ? new SmtpReply(code, record.EnhancedCode, record.ReplyText ?? "") : null;
        return record.State switch
        {
            DeliveryState.Delivered when reply is not null => publisher.Publish(
                new EmailDelivered(eventId, record.EmailId, record.Recipient, record.Relay ?? "", record.Attempt, reply, at), cancellationToken),
            DeliveryState.Bounced when reply is not null => publisher.Publish(
                new EmailBounced(eventId, record.EmailId, record.Recipient, record.Relay ?? "", record.Attempt, reply, at), cancellationToken),
            DeliveryState.Suppressed => publisher.Publish(
                new EmailSuppressed(eventId, record.EmailId, record.Recipient, record.Reason ?? "The address is on the suppression list.", at)
                {
                    Attempt = record.Attempt,
                },
                cancellationToken),
            DeliveryState.Deferred => publisher.Publish(
                new EmailDeferred(eventId, record.EmailId, record.Recipient, record.Relay, record.Attempt, reply,
                    record.Reason ?? "The relay did not accept the message.",
                    record.DueAt is { } due ? new DateTimeOffset(due, TimeSpan.Zero) : null, at), cancellationToken),
            _ => publisher.Publish(
                new EmailFailed(eventId, record.EmailId, record.Recipient, record.Relay, record.Attempt, reply,
                    record.Reason ?? "The platform gave up on this recipient.", at), cancellationToken),
        };
    }

    public static RecipientOutcomeKind KindOf(DeliveryState state) => state switch
    {
        DeliveryState.Delivered => RecipientOutcomeKind.Delivered,
        DeliveryState.Bounced => RecipientOutcomeKind.Bounced,
        DeliveryState.Failed => RecipientOutcomeKind.Failed,
        DeliveryState.Suppressed => RecipientOutcomeKind.Suppressed,
        _ => RecipientOutcomeKind.Deferred,
    };
}
