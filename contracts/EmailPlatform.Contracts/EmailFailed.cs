namespace EmailPlatform.Contracts;

/// <summary>
/// The platform gave up on this recipient without a permanent reply from a relay: the retry window
/// expired, or the message could not be sent at all. <paramref name="Reason"/> says why;
/// <paramref name="Reply"/> is the last reply seen, if any.
/// </summary>
public sealed record EmailFailed(
    Guid EventId,
    Guid EmailId,
    string Recipient,
    string? Relay,
    int Attempt,
    SmtpReply? Reply,
    string Reason,
    DateTimeOffset Timestamp) : IRecipientOutcome;
