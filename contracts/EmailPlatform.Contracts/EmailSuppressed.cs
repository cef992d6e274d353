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
    string? IRecipientOutcome.Relay => null;

    int IRecipientOutcome.Attempt => 0;

    SmtpReply? IRecipientOutcome.Reply => null;
}
