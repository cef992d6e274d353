using EmailPlatform.Contracts;
using EmailPlatform.Delivery.Relays;
using EmailPlatform.Delivery.Smtp;
using MassTransit;

namespace EmailPlatform.Delivery.Sending;

/// <summary>
/// Sends one <see cref="SendEmail"/>: builds the message, picks the relay, makes one SMTP attempt and publishes
/// one outcome event per recipient (<see cref="EmailDelivered"/>, <see cref="EmailDeferred"/> or
/// <see cref="EmailBounced"/>). Scheduling the next attempt of a deferred recipient is a later issue.
/// </summary>
internal sealed class EmailSender(
    RelayPicker relays,
    SmtpRelayClient smtp,
    DeliveryMetrics metrics,
    TimeProvider time,
    ILogger<EmailSender> logger)
{
    public async Task SendAsync(SendEmail email, int attempt, IPublishEndpoint publisher, CancellationToken cancellationToken)
    {
        var message = MimeMessageFactory.Create(email);
        var relay = relays.Pick();

        var outcomes = await smtp.SendAsync(relay, message, email.Envelope, email.EmailId, cancellationToken);

        // The relay has answered: publish what it said even if shutdown begins now, or the redelivered command
        // would send the message a second time.
        // A failure from here on must not retry the consumer: that would send the message again.
        try
        {
            foreach (var outcome in outcomes)
            {
                await PublishAsync(publisher, email.EmailId, relay.Name, attempt, outcome);
                metrics.RecordOutcome(relay.Name, outcome.Kind);
            }
        }
        catch (Exception ex)
        {
            throw new OutcomeNotPublishedException(email.EmailId, ex);
        }

        Log.Outcome(logger, email.EmailId, attempt, relay.Name,
            outcomes.Count(o => o.Kind == RecipientOutcomeKind.Delivered),
            outcomes.Count(o => o.Kind == RecipientOutcomeKind.Deferred),
            outcomes.Count(o => o.Kind == RecipientOutcomeKind.Bounced));
    }

    private Task PublishAsync(IPublishEndpoint publisher, Guid emailId, string relay, int attempt, RecipientOutcome outcome)
    {
        var now = time.GetUtcNow();
        return outcome switch
        {
            { Kind: RecipientOutcomeKind.Delivered, Reply: { } reply } => publisher.Publish(
                new EmailDelivered(NewId.NextGuid(), emailId, outcome.Recipient, relay, attempt, reply, now)),
            { Kind: RecipientOutcomeKind.Bounced, Reply: { } reply } => publisher.Publish(
                new EmailBounced(NewId.NextGuid(), emailId, outcome.Recipient, relay, attempt, reply, now)),
            _ => publisher.Publish(
                new EmailDeferred(NewId.NextGuid(), emailId, outcome.Recipient, relay, attempt, outcome.Reply,
                    outcome.Reason ?? "The relay did not accept the message.", NextAttemptAt: null, now)),
        };
    }
}

/// <summary>
/// The relay answered but the outcome could not be published. Not retried (a retry would send the message
/// again): the command faults to the error queue, where the email id and the cause are visible.
/// </summary>
internal sealed class OutcomeNotPublishedException(Guid emailId, Exception inner)
    : Exception($"Email {emailId} was handed to the relay, but its outcome could not be published.", inner);
