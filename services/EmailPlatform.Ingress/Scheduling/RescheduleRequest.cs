namespace EmailPlatform.Ingress.Scheduling;

/// <summary>The body of <c>PATCH /v1/emails/{id}</c>.</summary>
public sealed record RescheduleRequest(string? ScheduledAt);

/// <summary>The answer to a cancel or reschedule: <c>{"object": "email", "id": …}</c>, as Resend's clients read it.</summary>
public sealed record EmailReference(string Object, Guid Id);
