namespace EmailPlatform.Status.Webhooks;

/// <summary>The event types a subscription can ask for; timeline types not listed here are not sent.</summary>
public static class WebhookEventTypes
{
    public static readonly IReadOnlyList<string> All =
    [
        "email.queued", "email.scheduled", "email.delivered", "email.deferred",
        "email.bounced", "email.failed", "email.suppressed", "email.canceled", "email.complained",
    ];

    public static bool IsKnown(string type) => All.Contains(type, StringComparer.Ordinal);
}
