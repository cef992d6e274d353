namespace EmailPlatform.Ingress.Outbox;

/// <summary>
/// A bus message written in the same transaction as the change it announces, and published by
/// <see cref="OutboxPublisher"/> once <see cref="AvailableAt"/> has come: at once for most, at the chosen
/// time for a scheduled email's <c>SendEmail</c>. <see cref="PublishedAt"/> is set only after the broker
/// confirmed the message.
/// </summary>
public sealed class OutboxMessage
{
    /// <summary>
    /// Version 7 (time-ordered); the rows an email is split into for its schedule get theirs in the order written
    /// (<see cref="Outbox"/>), so that its messages due at the same time are published in that order.
    /// </summary>
    public Guid Id { get; set; }

    public Guid EmailId { get; set; }

    /// <summary>The contract's type name, such as <c>SendEmail</c> (see <see cref="OutboxMessageTypes"/>).</summary>
    public required string MessageType { get; set; }

    /// <summary>The message as JSON.</summary>
    public required string Payload { get; set; }

    public DateTime CreatedAt { get; set; }

    public DateTime AvailableAt { get; set; }

    public DateTime? PublishedAt { get; set; }

    /// <summary>
    /// Set, and committed, before a publisher sends the row's messages: from then on the broker may have them, so the
    /// email can no longer be canceled or rescheduled (<see cref="Scheduling.UnsentEmails"/>), even if the publisher
    /// then fails to mark the row published. Until this time the publisher that set it owns the row; after it, any
    /// publisher may send the row again (a duplicate every consumer tolerates).
    /// </summary>
    public DateTime? PublishingUntil { get; set; }

    /// <summary>W3C <c>traceparent</c> of the request that wrote it, so the publish joins that trace.</summary>
    public string? TraceParent { get; set; }
}
