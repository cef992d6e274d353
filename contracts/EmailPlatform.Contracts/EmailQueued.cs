namespace EmailPlatform.Contracts;

/// <summary>
/// The email was handed to the delivery workers (published right before its <see cref="SendEmail"/>):
/// at once for an immediate send, at its time for a scheduled one.
/// </summary>
public sealed record EmailQueued(Guid EventId, Guid EmailId, DateTimeOffset Timestamp);
