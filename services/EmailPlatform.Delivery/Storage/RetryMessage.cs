namespace EmailPlatform.Delivery.Storage;

/// <summary>
/// The command of an email that has recipients still to retry, kept so the scheduler can hand it back to the bus
/// for just those recipients. Stored while needed (a deferral, or a claim a crashed worker may have left), and after
/// a recipient failed for <c>Delivery:FailedContentRetention</c> (<see cref="KeepUntil"/>), so that an operator's
/// <c>RetryRecipients</c> can send it again; deleted once every recipient is final and none failed.
/// </summary>
internal sealed class RetryMessage
{
    public Guid EmailId { get; set; }

    /// <summary>The <c>SendEmail</c> as JSON.</summary>
    public string Command { get; set; } = "";

    public DateTime CreatedAt { get; set; }

    /// <summary>Null while recipients are still being sent or retried; else when the content is deleted.</summary>
    public DateTime? KeepUntil { get; set; }

    /// <summary>
    /// W3C <c>traceparent</c> of the attempt that kept the command, so that the scheduler's hand-backs and outcomes join
    /// the email's trace; null for a command kept before it was stored (its retries start a trace of their own).
    /// </summary>
    public string? TraceParent { get; set; }
}
