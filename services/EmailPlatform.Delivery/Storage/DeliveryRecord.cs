namespace EmailPlatform.Delivery.Storage;

/// <summary>
/// One envelope recipient of one email: its claim, its attempt count, its retry schedule and the last outcome
/// recorded for it (with the event id it was published under, so a re-publish is the same event).
/// </summary>
internal sealed class DeliveryRecord
{
    public Guid EmailId { get; set; }

    /// <summary>The address as the envelope has it.</summary>
    public string Recipient { get; set; } = "";

    public DeliveryState State { get; set; }

    /// <summary>Attempts started so far; the current attempt's number while <see cref="DeliveryState.Sending"/>.</summary>
    public int Attempt { get; set; }

    /// <summary>The claim that is sending it now; only that claim may record its outcome.</summary>
    public Guid? ClaimId { get; set; }

    /// <summary>
    /// When the scheduler next looks at it: the next attempt (deferred), the end of the lease (sending), when a
    /// hand-back to the bus is presumed lost (queued), or, for a failure the scheduler recorded (expired, lost), when its
    /// publish is presumed lost. Null once final (and, for the scheduler's failures, once published).
    /// </summary>
    public DateTime? DueAt { get; set; }

    public DateTime FirstAttemptAt { get; set; }

    /// <summary>After this, a deferral is final: <see cref="DeliveryState.Failed"/> (expired).</summary>
    public DateTime ExpiresAt { get; set; }

    public string? Relay { get; set; }

    public int? ReplyCode { get; set; }

    public string? EnhancedCode { get; set; }

    public string? ReplyText { get; set; }

    public string? Reason { get; set; }

    /// <summary>The event id of the last outcome published for it.</summary>
    public Guid? OutcomeEventId { get; set; }

    public DateTime? OutcomeAt { get; set; }

    public DateTime UpdatedAt { get; set; }

    /// <summary>
    /// Set in memory when this process fails the recipient (<see cref="Storage.FailureKind"/>), for the
    /// <c>emailplatform.failed</c> counter's reason tag. Not stored.
    /// </summary>
    public string? FailedAs { get; set; }

    public int Version { get; set; }
}
