using System.Globalization;
using EmailPlatform.ServiceDefaults.Paging;
using EmailPlatform.ServiceDefaults.Problems;
using EmailPlatform.Status.Storage;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;

namespace EmailPlatform.Status.Webhooks;

/// <summary>
/// A subscription's delivery log, and replay of one delivery or of every event in a time range. A replay is refused
/// (409 <see cref="SubscriptionDisabled"/>) while the subscription is disabled: the dispatcher sends nothing to it, and
/// what was queued would only be marked skipped.
/// </summary>
public static class WebhookDeliveriesEndpoints
{
    public const int MaxReplay = 10_000;

    public const string SubscriptionDisabled = "subscription_disabled";

    public static RouteGroupBuilder MapWebhookDeliveries(this RouteGroupBuilder webhooks)
    {
        webhooks.MapGet("/{id}/deliveries", ListAsync).WithName("ListWebhookDeliveries")
            .WithSummary("The newest deliveries first, each with its attempts (status code, latency, error) and next attempt.");
        webhooks.MapPost("/{id}/deliveries/{deliveryId}/replay", ReplayOneAsync).WithName("ReplayWebhookDelivery")
            .WithSummary("Sends a delivery again (409 while the subscription is disabled).");
        webhooks.MapPost("/{id}/replay", ReplayRangeAsync).WithName("ReplayWebhookRange")
            .WithSummary("Sends again every subscribed event that occurred in [from, to), including while the subscription was disabled (409 while it still is); with only_undelivered, only those it has not received and is not about to.");
        return webhooks;
    }

    /// <param name="before">
    /// A delivery id (the last one of the previous page: newest first, deliveries made in the same instant, as a range
    /// replay makes them, are neither skipped nor repeated), or a time (deliveries made before it).
    /// </param>
    internal static async Task<Results<Ok<ListResponse<WebhookDeliveryResponse>>, ProblemHttpResult, ValidationProblem>> ListAsync(
        string id, StatusDbContext db, CancellationToken cancellationToken, string? limit = null, string? status = null, string? before = null)
    {
        if (await WebhooksEndpoints.FindAsync(db, id, cancellationToken) is not { } subscription)
        {
            return WebhooksEndpoints.NotFound(id);
        }

        var errors = new Dictionary<string, string[]>();
        var take = PageLimit.Parse(limit, errors);
        if (errors.Count > 0)
        {
            return ApiProblems.Validation(errors);
        }

        var query = db.WebhookDeliveries.AsNoTracking().Include(d => d.Log).Where(d => d.SubscriptionId == subscription.Id);
        if (status is not null)
        {
            // A status that does not exist is the client's mistake, not an empty page that reads as "none of them".
            if (WebhookDeliveryStatus.All.FirstOrDefault(s => s.Equals(status, StringComparison.OrdinalIgnoreCase)) is not { } known)
            {
                return ApiProblems.Validation(new Dictionary<string, string[]>
                {
                    ["status"] = [$"'{status}' is not a delivery status; status is one of: {string.Join(", ", WebhookDeliveryStatus.All)}."],
                });
            }

            query = query.Where(d => d.Status == known);
        }

        if (Guid.TryParse(before, out var beforeId))
        {
            var from = await db.WebhookDeliveries.AsNoTracking().Where(d => d.Id == beforeId && d.SubscriptionId == subscription.Id)
                .Select(d => (DateTime?)d.CreatedAt).SingleOrDefaultAsync(cancellationToken);
            if (from is not { } createdAt)
            {
                return ApiProblems.Validation(new Dictionary<string, string[]> { ["before"] = [$"Webhook '{id}' has no delivery '{before}'."] });
            }

            query = query.Where(d => d.CreatedAt < createdAt || (d.CreatedAt == createdAt && d.Id.CompareTo(beforeId) < 0));
        }
        else if (DateTimeOffset.TryParse(before, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var until))
        {
            var untilUtc = until.UtcDateTime;
            query = query.Where(d => d.CreatedAt < untilUtc);
        }
        else if (before is not null)
        {
            return ApiProblems.Validation(new Dictionary<string, string[]> { ["before"] = ["before is a delivery id (the last one of the previous page) or an ISO 8601 time."] });
        }

        var page = await query.OrderByDescending(d => d.CreatedAt).ThenByDescending(d => d.Id).Take(take + 1).ToListAsync(cancellationToken);
        return TypedResults.Ok(ListResponse<WebhookDeliveryResponse>.Of(
            page.Take(take).Select(WebhookDeliveryResponse.From).ToList(), page.Count > take));
    }

    internal static async Task<Results<Accepted<WebhookDeliveryResponse>, ProblemHttpResult>> ReplayOneAsync(
        string id, string deliveryId, StatusDbContext db, TimeProvider clock, CancellationToken cancellationToken)
    {
        if (await WebhooksEndpoints.FindAsync(db, id, cancellationToken) is not { } subscription)
        {
            return WebhooksEndpoints.NotFound(id);
        }

        if (!subscription.Enabled)
        {
            return Disabled(subscription);
        }

        var original = Guid.TryParse(deliveryId, out var originalId)
            ? await db.WebhookDeliveries.AsNoTracking().SingleOrDefaultAsync(d => d.Id == originalId && d.SubscriptionId == subscription.Id, cancellationToken)
            : null;
        if (original is null)
        {
            return ApiProblems.Problem(StatusCodes.Status404NotFound, ApiProblems.NotFound, "Delivery not found.",
                $"Webhook '{id}' has no delivery '{deliveryId}'.");
        }

        // The same body, unless it was written before the email's details were recorded and they are known now: then it is
        // written again with them, from the event (if it is still kept), as a range replay writes every body.
        var (payload, withoutDetails) = (original.Payload, original.WithoutDetails);
        if (withoutDetails
            && await db.Events.AsNoTracking().SingleOrDefaultAsync(e => e.Id == original.EventId, cancellationToken) is { } @event
            && await PayloadFields(db.Emails.Where(e => e.Id == original.EmailId && e.AcceptedAt != null)).SingleOrDefaultAsync(cancellationToken) is { } email)
        {
            (payload, withoutDetails) = (WebhookPayload.Serialize(@event, email), false);
        }

        var now = clock.GetUtcNow().UtcDateTime;
        var replay = new WebhookDeliveryRecord
        {
            Id = Guid.CreateVersion7(),
            SubscriptionId = subscription.Id,
            MessageId = original.MessageId,
            EventId = original.EventId,
            EmailId = original.EmailId,
            EventType = original.EventType,
            Payload = payload,
            WithoutDetails = withoutDetails,
            CreatedAt = now,
            NextAttemptAt = now,
            ReplayOf = original.Id,
        };
        db.WebhookDeliveries.Add(replay);
        await db.SaveChangesAsync(cancellationToken);
        return TypedResults.Accepted($"/v1/webhooks/{subscription.Id}/deliveries", WebhookDeliveryResponse.From(replay));
    }

    internal static async Task<Results<Accepted<ReplayResponse>, ValidationProblem, ProblemHttpResult>> ReplayRangeAsync(
        string id, ReplayRangeRequest request, StatusDbContext db, TimeProvider clock, CancellationToken cancellationToken)
    {
        if (await WebhooksEndpoints.FindAsync(db, id, cancellationToken) is not { } subscription)
        {
            return WebhooksEndpoints.NotFound(id);
        }

        if (!subscription.Enabled)
        {
            return Disabled(subscription);
        }

        if (request.From is not { } from || request.To is not { } to || from >= to)
        {
            return ApiProblems.Validation(new Dictionary<string, string[]> { ["from"] = ["from and to are required, and from must be before to."] });
        }

        var (fromUtc, toUtc) = (from.UtcDateTime, to.UtcDateTime);
        var types = subscription.Events;
        // Not the events recorded after what superseded them (EventRecord.Withheld): no subscription was sent them, and a
        // receiver keeping the latest webhook as the status would go back.
        var events = db.Events.AsNoTracking().Where(e => e.OccurredAt >= fromUtc && e.OccurredAt < toUtc && types.Contains(e.Type) && !e.Withheld);
        if (request.OnlyUndelivered is true)
        {
            // Found through the deliveries' email index: an email has a few of them.
            var (subscriptionId, createdAt) = (subscription.Id, subscription.CreatedAt);
            events = events.Where(e => e.OccurredAt >= createdAt && !db.WebhookDeliveries.Any(d =>
                d.EmailId == e.EmailId && d.EventId == e.Id && d.SubscriptionId == subscriptionId
                && (d.Status == WebhookDeliveryStatus.Delivered || d.Status == WebhookDeliveryStatus.Pending)));
        }

        // Counts no further than the limit: a range of a year would otherwise be counted in full, past the command timeout.
        if (await events.OrderBy(e => e.OccurredAt).Take(MaxReplay + 1).CountAsync(cancellationToken) > MaxReplay)
        {
            return ApiProblems.Validation(new Dictionary<string, string[]> { ["to"] = [$"The range holds more than {MaxReplay} events; replay it in smaller ranges."] });
        }

        var found = await events.OrderBy(e => e.OccurredAt).ToListAsync(cancellationToken);
        var emailIds = found.Select(e => e.EmailId).Distinct().ToList();
        var emails = await PayloadFields(db.Emails.Where(e => emailIds.Contains(e.Id) && e.AcceptedAt != null)).ToDictionaryAsync(e => e.Id, cancellationToken);
        var now = clock.GetUtcNow().UtcDateTime;
        var replays = found.ConvertAll(e =>
        {
            var email = emails.GetValueOrDefault(e.EmailId);
            return WebhookOutbox.NewDelivery(subscription.Id, e, WebhookPayload.Serialize(e, email), withoutDetails: email is null, now);
        });
        db.WebhookDeliveries.AddRange(replays);
        await db.SaveChangesAsync(cancellationToken);
        return TypedResults.Accepted($"/v1/webhooks/{subscription.Id}/deliveries",
            new ReplayResponse("replay", replays.Count, replays.Select(r => r.Id).ToList()));
    }

    /// <summary>
    /// Of the emails, only what a payload carries (<see cref="WebhookPayload"/>): their bodies would be hundreds of
    /// megabytes for a full range. Select those whose details are recorded: a payload is written without an email that has
    /// none yet, as the recorder writes it.
    /// </summary>
    private static IQueryable<EmailRecord> PayloadFields(IQueryable<EmailRecord> emails) => emails.AsNoTracking()
        .Select(e => new EmailRecord
        {
            Id = e.Id, MessageId = e.MessageId, From = e.From, To = e.To, Subject = e.Subject, ScheduledAt = e.ScheduledAt, Tags = e.Tags, Metadata = e.Metadata,
        });

    private static ProblemHttpResult Disabled(WebhookSubscriptionRecord subscription) => ApiProblems.Problem(
        StatusCodes.Status409Conflict, SubscriptionDisabled, "Webhook disabled.",
        $"Webhook '{subscription.Id}' is disabled, and nothing is sent to it (disabled_reason: {subscription.DisabledReason}). " +
        "Re-enable it (PATCH {\"enabled\": true}), then replay.");
}
