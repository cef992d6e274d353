using System.Text.Json;
using EmailPlatform.ServiceDefaults.Json;
using EmailPlatform.Status.Storage;
using Microsoft.EntityFrameworkCore;

namespace EmailPlatform.Status.Webhooks;

/// <summary>
/// A subscription's disables and re-enables, by the dispatcher (its attempts kept failing) or through the API, as audit
/// records: <see cref="Disabled"/> or <see cref="Enabled"/>, the subscription's id as the subject, the API key as the
/// actor (none when the service disabled it), the reason in the details. The subscription's <c>disabled_at</c> and
/// <c>disabled_reason</c> say how it is now and are cleared when it is re-enabled; these stay, and
/// <c>GET /v1/webhooks/{id}</c> shows the newest <see cref="Shown"/> as its <c>history</c>.
/// </summary>
internal static class WebhookHistory
{
    public const string Disabled = "webhook.disabled";
    public const string Enabled = "webhook.enabled";
    public const int Shown = 20;

    /// <summary>
    /// The filter of the partial index that finds a subscription's records among all the audit records (erasures and bulk
    /// operations too, whose subjects can be long): as EF Core writes the <see cref="ReadAsync"/> condition, which must
    /// repeat it for the index to serve it (WebhookHistoryTests explains the query on both providers).
    /// </summary>
    internal const string IndexFilterSql = "action IN ('webhook.disabled', 'webhook.enabled')";

    public static AuditRecord Record(Guid subscriptionId, string action, string? actor, DateTime at, string? reason) => new()
    {
        Id = Guid.CreateVersion7(),
        Action = action,
        Subject = subscriptionId.ToString(),
        Actor = actor,
        OccurredAt = at,
        Details = JsonSerializer.Serialize(new Details(reason), WireJson.Options),
    };

    public static async Task<List<WebhookHistoryEntry>> ReadAsync(StatusDbContext db, Guid subscriptionId, CancellationToken cancellationToken)
    {
        var subject = subscriptionId.ToString();
        var records = await db.AuditRecords.AsNoTracking()
            .Where(a => (a.Action == Disabled || a.Action == Enabled) && a.Subject == subject)
            .OrderByDescending(a => a.OccurredAt).ThenByDescending(a => a.Id)
            .Take(Shown)
            .ToListAsync(cancellationToken);
        return [.. records.Select(a => new WebhookHistoryEntry(
            a.Action, a.OccurredAt, a.Actor, JsonSerializer.Deserialize<Details>(a.Details, WireJson.Options)?.Reason))];
    }

    private sealed record Details(string? Reason);
}

/// <summary>One disable or re-enable of a subscription; <see cref="Actor"/> is the API key's id, null when the service disabled it.</summary>
public sealed record WebhookHistoryEntry(string Action, DateTime OccurredAt, string? Actor, string? Reason);
