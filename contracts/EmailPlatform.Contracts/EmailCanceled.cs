namespace EmailPlatform.Contracts;

/// <summary>A scheduled email was canceled before it was sent: none of its recipients will get it.</summary>
public sealed record EmailCanceled(Guid EventId, Guid EmailId, DateTimeOffset Timestamp);
