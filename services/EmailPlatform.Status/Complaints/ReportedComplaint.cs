namespace EmailPlatform.Status.Complaints;

/// <summary>
/// A recipient's complaint about an email (<see cref="FeedbackReport"/>): they marked it as spam, fraud or the like at
/// their mailbox provider, which reported it through its feedback loop. It changes no recipient's state (the email was
/// delivered, and stays so): it is an <c>email.complained</c> event on the timeline and for webhooks, and it suppresses
/// the address. <see cref="Recipient"/> is null when the report does not say which of the email's recipients complained
/// (providers redact it): the event is then the email's, and nothing is suppressed.
/// </summary>
public sealed record ReportedComplaint(
    Guid EventId,
    Guid EmailId,
    string? Recipient,
    string FeedbackType,
    string? ReportingMta,
    string Reporter,
    DateTimeOffset Timestamp);
