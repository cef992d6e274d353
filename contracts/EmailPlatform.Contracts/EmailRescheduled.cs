namespace EmailPlatform.Contracts;

/// <summary>A scheduled email was moved to a new time before it was sent.</summary>
public sealed record EmailRescheduled(Guid EventId, Guid EmailId, DateTimeOffset ScheduledAt, DateTimeOffset Timestamp);
