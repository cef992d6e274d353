namespace EmailPlatform.Contracts;

/// <summary>
/// A temporary failure for this recipient: a 4xx reply (then <paramref name="Reply"/> is set) or a
/// transport fault such as a refused connection or a timeout (then <paramref name="Reason"/> says
/// which). <paramref name="NextAttemptAt"/> is when the next attempt is due, if one is scheduled.
/// </summary>
public sealed record EmailDeferred(
    Guid EventId,
    Guid EmailId,
    string Recipient,
    string? Relay,
    int Attempt,
    SmtpReply? Reply,
    string Reason,
    DateTimeOffset? NextAttemptAt,
    DateTimeOffset Timestamp) : IRecipientOutcome;
