namespace EmailPlatform.Contracts;

/// <summary>The relay answered 5xx for this recipient: final, never retried.</summary>
public sealed record EmailBounced(
    Guid EventId,
    Guid EmailId,
    string Recipient,
    string Relay,
    int Attempt,
    SmtpReply Reply,
    DateTimeOffset Timestamp) : IRecipientOutcome
{
    SmtpReply? IRecipientOutcome.Reply => Reply;
}
