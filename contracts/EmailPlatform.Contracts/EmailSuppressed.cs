namespace EmailPlatform.Contracts;

/// <summary>
/// The recipient is on the suppression list, so nothing was sent to it: final, without SMTP traffic.
/// <paramref name="Reason"/> is the suppression's reason.
/// </summary>
public sealed record EmailSuppressed(
    Guid EventId,
    Guid EmailId,
    string Recipient,
    string Reason,
    DateTimeOffset Timestamp) : IRecipientOutcome
{
    /// <summary>
    /// The attempt that found the recipient suppressed and so made no SMTP transaction: after a failed attempt 3 and an
    /// operator's retry, 4. Without it the status service could not tell a suppression found by that retry from a late
    /// event of an earlier attempt. 0 in events published before it existed (deserialized without it).
    /// </summary>
    public int Attempt { get; init; }

    string? IRecipientOutcome.Relay => null;

    SmtpReply? IRecipientOutcome.Reply => null;
}
