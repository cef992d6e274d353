namespace EmailPlatform.Status.Storage;

/// <summary>
/// One entry of an email's timeline. The primary key is the event's own id, which makes recording
/// idempotent: a redelivered event finds itself already there.
/// </summary>
public sealed class EventRecord
{
    public Guid Id { get; set; }

    public Guid EmailId { get; set; }

    /// <summary><c>email.queued</c>, <c>email.delivered</c>, <c>email.deferred</c>, <c>email.bounced</c>, <c>email.failed</c>.</summary>
    public required string Type { get; set; }

    public string? Recipient { get; set; }

    public DateTime OccurredAt { get; set; }

    public string? Relay { get; set; }

    public int Attempt { get; set; }

    public int? SmtpCode { get; set; }

    public string? EnhancedCode { get; set; }

    public string? SmtpText { get; set; }

    public string? Reason { get; set; }

    public DateTime? NextAttemptAt { get; set; }

    public DateTime RecordedAt { get; set; }

    /// <summary>
    /// Recorded after what superseded it (a deferral of the attempt that then delivered, an older reschedule, a scheduled
    /// email's late <c>email.queued</c>): on the timeline, but sent to no webhook subscription when recorded, and left
    /// out of range replays, which would otherwise send a receiver back to what it no longer is.
    /// </summary>
    public bool Withheld { get; set; }
}
