namespace EmailPlatform.Contracts;

/// <summary>The relay answered 2xx for this recipient after the final dot.</summary>
public sealed record EmailDelivered(
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
