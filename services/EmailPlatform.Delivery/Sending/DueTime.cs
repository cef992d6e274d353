using EmailPlatform.Contracts;

namespace EmailPlatform.Delivery.Sending;

/// <summary>
/// When an email was due to leave: its scheduled time (the latest, after reschedules), or its acceptance when it was
/// sent at once. What the recipient sees as the message's <c>Date</c>, and where <c>emailplatform.time_to_delivered</c>
/// starts: a scheduled email delivered on time took seconds, not the days it waited for its time. A command from an
/// ingress that predates <see cref="SendEmail.ScheduledAt"/> has only its acceptance. Never before the acceptance.
/// </summary>
internal static class DueTime
{
    public static DateTimeOffset DueAt(this SendEmail email) =>
        email.ScheduledAt is { } scheduled && scheduled > email.AcceptedAt ? scheduled : email.AcceptedAt;
}
