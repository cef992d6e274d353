using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using EmailPlatform.Contracts;
using EmailPlatform.Ingress.Outbox;
using EmailPlatform.Ingress.Storage;
using EmailPlatform.ServiceDefaults.Json;
using EmailPlatform.ServiceDefaults.Storage;
using Microsoft.EntityFrameworkCore;
using MimeKit;

namespace EmailPlatform.Ingress.Reads;

/// <summary>
/// An email the ingress accepted that the status service has not recorded yet (its events are still in the outbox
/// or on the bus), so that <c>GET /v1/emails/{id}</c> right after the 202 finds it instead of answering 404. Built
/// from the outbox in the status service's shape: Resend's email object with <c>last_event</c> <c>queued</c>,
/// <c>scheduled</c> or <c>canceled</c>, its latest <c>scheduled_at</c>, our <c>status</c>, the recipients in that state, and
/// no events yet.
/// </summary>
internal static class PendingEmails
{
    public static async Task<PendingEmailResponse?> FindAsync(IngressDbContext db, Guid id, TimeProvider clock, CancellationToken cancellationToken)
    {
        var rows = await db.OutboxMessages.AsNoTracking().Where(m => m.EmailId == id).ToListAsync(cancellationToken);
        var messages = rows
            .Where(r => r.MessageType is OutboxMessageTypes.AcceptedEmailRow or nameof(EmailAccepted) or nameof(SendEmail) or nameof(EmailCanceled))
            // A row the publisher parked as unreadable is left out: the email is shown from what can be read of it.
            .SelectMany(r => OutboxMessageTypes.ReadOrNone(r).Select(m => (Row: r, m.Message)))
            .ToList();
        if (messages.Select(m => m.Message).OfType<EmailAccepted>().FirstOrDefault() is not { } accepted)
        {
            return null;
        }

        var send = messages.FirstOrDefault(m => m.Message is SendEmail);
        var status = messages.Any(m => m.Message is EmailCanceled) ? "canceled"
            : send.Row is { PublishedAt: null } && send.Row.AvailableAt > clock.GetUtcNow().UtcDateTime ? "scheduled"
            : "queued";
        var row = messages.First(m => m.Message is EmailAccepted).Row;
        var bodies = accepted.StoredBody is { } stored ? await StoredContents.LoadBodiesAsync(db, stored, cancellationToken) : null;
        return new PendingEmailResponse(
            Object: "email",
            Id: id,
            From: accepted.From,
            To: accepted.To,
            Cc: NullIfEmpty(accepted.Cc),
            Bcc: NullIfEmpty(accepted.Bcc),
            ReplyTo: NullIfEmpty(accepted.ReplyTo),
            Subject: accepted.Subject,
            Html: bodies?.Html ?? accepted.Html,
            Text: bodies?.Text ?? accepted.Text,
            CreatedAt: accepted.AcceptedAt.UtcDateTime,
            // The command's row carries the email's latest time (a reschedule moves it, and may have scheduled an email
            // accepted for now); its accept keeps the time it was given first. Without the command (canceled), that one.
            ScheduledAt: (send.Message is SendEmail command ? command.ScheduledAt : accepted.ScheduledAt)?.UtcDateTime,
            LastEvent: status,
            Tags: accepted.Tags,
            MessageId: accepted.MessageId,
            TraceId: ActivityContext.TryParse(row.TraceParent, null, out var trace) ? trace.TraceId.ToHexString() : null,
            Status: status,
            Metadata: accepted.Metadata,
            Attachments: accepted.AttachmentNames,
            Recipients: Recipients(accepted, status, row.CreatedAt),
            Events: []);
    }

    /// <summary>
    /// The email as accepted, merged into what the status service recorded of it before its details arrived (its answer
    /// with <c>Email-Details: pending</c>: outcomes that came before <c>EmailAccepted</c>): the details from the outbox, each
    /// recipient as recorded when it was (its type from the outbox) and as accepted when not, the recorded events, and the
    /// status derived from all the recipients, as the status service will derive it once the details are recorded.
    /// </summary>
    public static JsonObject Merge(PendingEmailResponse accepted, JsonObject recorded)
    {
        var merged = JsonSerializer.SerializeToNode(accepted, WireJson.Options)!.AsObject();
        var outcomes = new Dictionary<string, JsonObject>(StringComparer.OrdinalIgnoreCase);
        foreach (var known in (recorded["recipients"] as JsonArray ?? []).OfType<JsonObject>())
        {
            if (known["email"] is JsonValue email && email.TryGetValue<string>(out var address))
            {
                outcomes.TryAdd(address, known);
            }
        }

        var recipients = new JsonArray();
        var shown = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var recipient in merged["recipients"]!.AsArray().OfType<JsonObject>())
        {
            var address = recipient["email"]!.GetValue<string>();
            if (outcomes.TryGetValue(address, out var known))
            {
                var copy = known.DeepClone().AsObject();
                copy["type"] ??= recipient["type"]?.DeepClone();
                recipients.Add(copy);
                shown.Add(address);
            }
            else
            {
                recipients.Add(recipient.DeepClone());
            }
        }

        foreach (var (address, known) in outcomes.Where(o => !shown.Contains(o.Key)))
        {
            recipients.Add(known.DeepClone());
        }

        var status = Derive([.. recipients.Select(r => r!["status"]!.GetValue<string>())]);
        merged["recipients"] = recipients;
        merged["events"] = recorded["events"]?.DeepClone() ?? new JsonArray();
        merged["status"] = status;
        merged["last_event"] = status switch { "sending" => "queued", "deferred" => "delivery_delayed", _ => status };
        return merged;
    }

    private static readonly string[] PendingStates = ["scheduled", "queued", "sending", "deferred"];

    private static readonly string[] FinalStatesWorstFirst = ["bounced", "failed", "suppressed", "canceled"];

    /// <summary>
    /// An email's status from its recipients', by the status service's rule (its <c>EmailStates.Derive</c>, which this
    /// service cannot reference): as far along as its least advanced recipient, a deferred one showing; once all are
    /// final, delivered only if all were, otherwise the worst final state.
    /// </summary>
    internal static string Derive(IReadOnlyCollection<string> states)
    {
        var pending = states.Where(PendingStates.Contains).ToList();
        if (pending.Count > 0 || states.Count == 0)
        {
            return pending.Contains("deferred") ? "deferred" : pending.DefaultIfEmpty("queued").MinBy(s => Array.IndexOf(PendingStates, s))!;
        }

        return FinalStatesWorstFirst.FirstOrDefault(states.Contains) ?? "delivered";
    }

    private static List<PendingRecipient> Recipients(EmailAccepted accepted, string status, DateTime at) =>
        [.. accepted.RecipientsByField(entry => MailboxAddress.TryParse(entry, out var mailbox) ? [mailbox.Address]
                : InternetAddressList.TryParse(entry, out var list) ? list.Mailboxes.Select(m => m.Address)
                : [entry])
            .Select(r => new PendingRecipient(r.Address, r.Field, status, 0, null, null, null, at))];

    private static IReadOnlyList<string>? NullIfEmpty(IReadOnlyList<string> values) => values.Count == 0 ? null : values;
}

/// <summary>The status service's email object (<c>GET /v1/emails/{id}</c>) for an email it has not recorded yet.</summary>
internal sealed record PendingEmailResponse(
    string Object,
    Guid Id,
    string From,
    IReadOnlyList<string> To,
    IReadOnlyList<string>? Cc,
    IReadOnlyList<string>? Bcc,
    IReadOnlyList<string>? ReplyTo,
    string Subject,
    string? Html,
    string? Text,
    DateTime CreatedAt,
    DateTime? ScheduledAt,
    string LastEvent,
    IReadOnlyList<EmailTag> Tags,
    string MessageId,
    string? TraceId,
    string Status,
    IReadOnlyDictionary<string, string> Metadata,
    IReadOnlyList<string> Attachments,
    IReadOnlyList<PendingRecipient> Recipients,
    IReadOnlyList<object> Events);

internal sealed record PendingRecipient(
    string Email, string Type, string Status, int Attempts, object? LastReply, string? Reason, DateTime? NextAttemptAt, DateTime UpdatedAt);
