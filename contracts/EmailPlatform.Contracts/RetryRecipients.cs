namespace EmailPlatform.Contracts;

/// <summary>
/// Asks the delivery workers to try these recipients of one email again now: a <c>deferred</c> recipient's next
/// attempt is brought forward; a <c>failed</c> one (expired, or given up on) gets a new retry window. Recipients in
/// any other state (delivered, bounced, suppressed, still sending) are left alone, so the command is safe to repeat.
/// Sent by the status service's bulk retry.
/// </summary>
/// <param name="CommandId">Unique per request; a redelivered command is recognised by it.</param>
/// <param name="EmailId">The email.</param>
/// <param name="Recipients">Recipient addresses (envelope RCPT TO) to retry.</param>
/// <param name="RequestedAt">When the operator asked.</param>
public sealed record RetryRecipients(Guid CommandId, Guid EmailId, IReadOnlyList<string> Recipients, DateTimeOffset RequestedAt);
