using EmailPlatform.Contracts;

namespace EmailPlatform.Status.Bounces;

/// <summary>
/// A bounce that reached us as a delivery status notification (<see cref="DeliveryReport"/>) after a relay had taken the
/// message: the recipient's server refused it further down the way. Unlike a relay's 5xx (<see cref="EmailBounced"/>) it
/// replaces a recipient's <c>delivered</c>, since that only said the relay took it. It belongs to no attempt of ours:
/// it is recorded against the recipient's latest. <see cref="Reply"/> is the remote server's reply when the report quotes
/// one; <see cref="Status"/>, the report's RFC 3463 code, is always there.
/// </summary>
public sealed record ReportedBounce(
    Guid EventId,
    Guid EmailId,
    string Recipient,
    string? ReportingMta,
    string Status,
    SmtpReply? Reply,
    string? Diagnostic,
    DateTimeOffset Timestamp) : IRecipientOutcome
{
    string? IRecipientOutcome.Relay => ReportingMta;

    int IRecipientOutcome.Attempt => 0;
}
