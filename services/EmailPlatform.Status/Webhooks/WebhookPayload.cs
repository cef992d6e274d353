using System.Text.Json;
using EmailPlatform.Contracts;
using EmailPlatform.ServiceDefaults.Json;
using EmailPlatform.Status.Reads;
using EmailPlatform.Status.Storage;

namespace EmailPlatform.Status.Webhooks;

/// <summary>The body of a webhook: <c>{"type", "created_at", "data": {…}}</c>, snake_case like the rest of the API.</summary>
public sealed record WebhookPayload(string Type, DateTime CreatedAt, WebhookEventData Data)
{
    public static string Serialize(EventRecord @event, EmailRecord? email) =>
        JsonSerializer.Serialize(new WebhookPayload(@event.Type, @event.OccurredAt, WebhookEventData.Create(@event, email)), WireJson.Options);
}

public sealed record WebhookEventData(
    Guid EventId,
    Guid EmailId,
    string? MessageId,
    string? From,
    IReadOnlyList<string> To,
    string? Subject,
    string? Recipient,
    SmtpReplyResponse? Smtp,
    string? Relay,
    int Attempt,
    string? Reason,
    DateTime? NextAttemptAt,
    DateTime? ScheduledAt,
    IReadOnlyList<EmailTag> Tags,
    IReadOnlyDictionary<string, string> Metadata)
{
    public static WebhookEventData Create(EventRecord e, EmailRecord? email) => new(
        e.Id,
        e.EmailId,
        email?.MessageId,
        email?.From,
        email?.To ?? [],
        email?.Subject,
        e.Recipient,
        SmtpReplyResponse.From(e.SmtpCode, e.EnhancedCode, e.SmtpText),
        e.Relay,
        e.Attempt,
        e.Reason,
        e.Type == "email.deferred" ? e.NextAttemptAt : null,
        e.Type == "email.scheduled" ? e.NextAttemptAt : email?.ScheduledAt,
        email?.Tags ?? [],
        email?.Metadata ?? []);
}
