namespace EmailPlatform.Status.Webhooks;

public sealed record CreateWebhookRequest(string? Url, List<string>? Events);

public sealed record UpdateWebhookRequest(string? Url, List<string>? Events, bool? Enabled);

/// <param name="OnlyUndelivered">
/// Only the events the subscription does not have and is not about to get: no delivery of theirs was delivered or is
/// pending (one skipped when it was disabled, one that failed every retry, one recorded while it was disabled), from its
/// creation on. Such a replay can cover an outage of days without sending again what got through.
/// </param>
public sealed record ReplayRangeRequest(DateTimeOffset? From, DateTimeOffset? To, bool? OnlyUndelivered = null);

/// <summary>
/// A subscription; <see cref="Secret"/> is only present in the answer to its creation, <see cref="History"/> (its
/// disables and re-enables, newest first) only in <c>GET /v1/webhooks/{id}</c>.
/// </summary>
public sealed record WebhookResponse(
    string Object,
    Guid Id,
    string Url,
    IReadOnlyList<string> Events,
    bool Enabled,
    DateTime? DisabledAt,
    string? DisabledReason,
    int ConsecutiveFailures,
    DateTime CreatedAt,
    DateTime UpdatedAt,
    [property: System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    string? Secret = null,
    [property: System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    IReadOnlyList<WebhookHistoryEntry>? History = null)
{
    public static WebhookResponse From(WebhookSubscriptionRecord s, bool withSecret = false, IReadOnlyList<WebhookHistoryEntry>? history = null) => new(
        "webhook", s.Id, s.Url, s.Events, s.Enabled, s.DisabledAt, s.DisabledReason, s.ConsecutiveFailures,
        s.CreatedAt, s.UpdatedAt, withSecret ? s.Secret : null, history);
}

public sealed record WebhookDeliveryResponse(
    string Object,
    Guid Id,
    string MessageId,
    Guid EventId,
    Guid EmailId,
    string EventType,
    string Status,
    int Attempts,
    DateTime CreatedAt,
    DateTime? NextAttemptAt,
    DateTime? LastAttemptAt,
    int? LastStatusCode,
    int? LastLatencyMs,
    string? LastError,
    DateTime? DeliveredAt,
    Guid? ReplayOf,
    IReadOnlyList<WebhookAttemptResponse> Log)
{
    public static WebhookDeliveryResponse From(WebhookDeliveryRecord d) => new(
        "webhook_delivery", d.Id, d.MessageId, d.EventId, d.EmailId, d.EventType, d.Status, d.Attempts, d.CreatedAt,
        d.NextAttemptAt, d.LastAttemptAt, d.LastStatusCode, d.LastLatencyMs, d.LastError, d.DeliveredAt, d.ReplayOf,
        d.Log.OrderBy(a => a.Attempt).Select(a => new WebhookAttemptResponse(a.Attempt, a.AttemptedAt, a.StatusCode, a.LatencyMs, a.Error)).ToList());
}

public sealed record WebhookAttemptResponse(int Attempt, DateTime AttemptedAt, int? StatusCode, int LatencyMs, string? Error);

public sealed record ListResponse<T>(string Object, bool HasMore, IReadOnlyList<T> Data)
{
    public static ListResponse<T> Of(IReadOnlyList<T> data, bool hasMore = false) => new("list", hasMore, data);
}

public sealed record ReplayResponse(string Object, int Replayed, IReadOnlyList<Guid> DeliveryIds);
