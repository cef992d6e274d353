using EmailPlatform.ServiceDefaults.Authentication;
using EmailPlatform.ServiceDefaults.Paging;
using EmailPlatform.ServiceDefaults.Problems;
using EmailPlatform.Status.Recording;
using EmailPlatform.Status.Storage;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace EmailPlatform.Status.Webhooks;

/// <summary><c>/v1/webhooks</c>: subscriptions (admin scope). Their delivery log and replay are in <see cref="WebhookDeliveriesEndpoints"/>.</summary>
public static class WebhooksEndpoints
{
    /// <summary>409: a re-enable while the deliveries pending at the disable are still being marked skipped.</summary>
    public const string SkipInProgress = "skip_in_progress";

    public static RouteGroupBuilder MapWebhooks(this IEndpointRouteBuilder routes)
    {
        var group = routes.MapGroup("/v1/webhooks").WithTags("Webhooks").RequireAuthorization(ApiKeyScopes.Admin);
        group.MapPost("/", CreateAsync).WithName("CreateWebhook").WithSummary("Subscribes a URL to event types; the answer carries the signing secret, once.");
        group.MapGet("/", ListAsync).WithName("ListWebhooks")
            .WithSummary("Subscriptions newest first, in pages: limit (1–100, default 20), after or before the id of one.");
        group.MapGet("/{id}", GetAsync).WithName("GetWebhook")
            .WithSummary("The subscription, with its history: each disable (automatic after continuous failure, or through the API) and re-enable, newest first.");
        group.MapPatch("/{id}", UpdateAsync).WithName("UpdateWebhook")
            .WithSummary("Changes url or events, or disables ({\"enabled\": false}: its pending deliveries are skipped) or re-enables ({\"enabled\": true}: 409 while they are still being skipped) a subscription.");
        group.MapDelete("/{id}", DeleteAsync).WithName("DeleteWebhook")
            .WithSummary("Deletes a subscription at once: nothing more is sent to it, and its delivery log is purged in the background.");
        group.MapWebhookDeliveries();
        return group;
    }

    internal static async Task<Results<Created<WebhookResponse>, ValidationProblem>> CreateAsync(
        CreateWebhookRequest request, StatusDbContext db, IOptions<WebhookOptions> options,
        TimeProvider clock, ILogger<WebhookResponse> logger, CancellationToken cancellationToken)
    {
        var errors = await ValidateAsync(request.Url, request.Events, required: true, options.Value, cancellationToken);
        if (errors.Count > 0)
        {
            return ApiProblems.Validation(errors);
        }

        var now = clock.GetUtcNow().UtcDateTime;
        var subscription = new WebhookSubscriptionRecord
        {
            Id = Guid.CreateVersion7(),
            Url = request.Url!,
            Events = request.Events!.Distinct(StringComparer.Ordinal).ToList(),
            Secret = WebhookSignature.NewSecret(),
            CreatedAt = now,
            UpdatedAt = now,
        };
        db.WebhookSubscriptions.Add(subscription);
        await db.SaveChangesAsync(cancellationToken);
        // Answered once every recorder batch that read the subscriptions without it has committed: each event recorded
        // after this answer, on any replica, is the subscription's.
        await RecorderBatches.TryWaitForBatchesAsync(db, subscription.Id, logger);
        return TypedResults.Created($"/v1/webhooks/{subscription.Id}", WebhookResponse.From(subscription, withSecret: true));
    }

    /// <summary>Subscriptions newest first, in pages (<see cref="NewestFirst"/>); deleted ones are gone from the list.</summary>
    internal static async Task<Results<Ok<ListResponse<WebhookResponse>>, ValidationProblem>> ListAsync(
        StatusDbContext db, CancellationToken cancellationToken, string? limit = null, string? after = null, string? before = null)
    {
        var errors = new Dictionary<string, string[]>();
        var subscriptions = db.WebhookSubscriptions.AsNoTracking().Where(s => s.DeletedAt == null);
        if (await NewestFirst.ReadAsync(subscriptions, s => s, limit, after, before, "a webhook", errors, cancellationToken) is not { } page)
        {
            return ApiProblems.Validation(errors);
        }

        return TypedResults.Ok(ListResponse<WebhookResponse>.Of(page.Items.Select(s => WebhookResponse.From(s)).ToList(), page.HasMore));
    }

    internal static async Task<Results<Ok<WebhookResponse>, ProblemHttpResult>> GetAsync(string id, StatusDbContext db, CancellationToken cancellationToken) =>
        await FindAsync(db, id, cancellationToken) is { } subscription
            ? TypedResults.Ok(WebhookResponse.From(subscription, history: await WebhookHistory.ReadAsync(db, subscription.Id, cancellationToken)))
            : NotFound(id);

    /// <summary>
    /// Changes a subscription; a disable is committed with its audit record before its pending deliveries are marked
    /// skipped, the first batch of them here (<see cref="DisabledSubscriptions"/>). A re-enable is refused while some of
    /// them are still to be marked: it would send them late, the flood the skip is there to prevent.
    /// </summary>
    internal static async Task<Results<Ok<WebhookResponse>, ValidationProblem, ProblemHttpResult>> UpdateAsync(
        string id, UpdateWebhookRequest request, HttpContext http, StatusDbContext db, IOptions<WebhookOptions> options,
        TimeProvider clock, ILogger<WebhookResponse> logger, CancellationToken cancellationToken)
    {
        if (await FindAsync(db, id, cancellationToken) is not { } subscription)
        {
            return NotFound(id);
        }

        var settings = options.Value;
        var errors = await ValidateAsync(request.Url, request.Events, required: false, settings, cancellationToken);
        if (errors.Count > 0)
        {
            return ApiProblems.Validation(errors);
        }

        if (request.Enabled is true && !subscription.Enabled)
        {
            // One more batch first, which for most subscriptions finishes what the disable's first batch left over.
            await DisabledSubscriptions.SkipPendingAsync(db, subscription.Id, settings.HousekeepingBatchSize, cancellationToken);
            if (await DisabledSubscriptions.HasPendingAsync(db, subscription.Id, cancellationToken))
            {
                return ApiProblems.Problem(StatusCodes.Status409Conflict, SkipInProgress, "Webhook deliveries still being skipped.",
                    $"Webhook '{subscription.Id}' still has deliveries from before it was disabled that are being marked skipped in the background; " +
                    "re-enabled now, it would be sent them late. Nothing was changed; retry in a minute.");
            }
        }

        var now = clock.GetUtcNow().UtcDateTime;
        subscription.Url = request.Url ?? subscription.Url;
        subscription.Events = request.Events?.Distinct(StringComparer.Ordinal).ToList() ?? subscription.Events;
        if (request.Enabled is { } enabled && enabled != subscription.Enabled)
        {
            subscription.Enabled = enabled;
            subscription.DisabledAt = enabled ? null : now;
            subscription.DisabledReason = enabled ? null : "Disabled through the API.";
            subscription.ConsecutiveFailures = 0;
            subscription.FailingSince = null;
            subscription.LastFailureAt = null;
            db.AuditRecords.Add(WebhookHistory.Record(subscription.Id, enabled ? WebhookHistory.Enabled : WebhookHistory.Disabled,
                ApiKeyIdentity.ActorOf(http), now, subscription.DisabledReason));
        }

        subscription.UpdatedAt = now;
        try
        {
            await db.SaveChangesAsync(cancellationToken);
        }
        catch (DbUpdateConcurrencyException)
        {
            // Deleted since it was read: saving the change would have brought it back for the dispatcher.
            return NotFound(id);
        }

        // Once the batches that read the subscription as it was have committed: what they queued for a disabled one is
        // there for the skip below, and each event recorded after the answer follows the change.
        await RecorderBatches.TryWaitForBatchesAsync(db, subscription.Id, logger);
        if (!subscription.Enabled)
        {
            // The disable is committed, whatever happens to this: a failure here is the sweep's to make up for (and
            // nothing of this subscription is sent meanwhile), not an error for a client that would retry what is done.
            try
            {
                await DisabledSubscriptions.SkipPendingAsync(db, subscription.Id, settings.HousekeepingBatchSize, cancellationToken);
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
            {
                Log.SkipLeftToSweep(logger, subscription.Id, ex);
            }
        }

        return TypedResults.Ok(WebhookResponse.From(subscription));
    }

    /// <summary>
    /// Marks the subscription deleted, and disabled, in one short update of its row: from then on the API does not find
    /// it, the recorder queues nothing more for it and the dispatcher sends nothing more to it. Its deliveries, however
    /// many, are purged in the background and its row removed after them (<see cref="DeletedSubscriptions"/>).
    /// </summary>
    internal static async Task<Results<NoContent, ProblemHttpResult>> DeleteAsync(
        string id, StatusDbContext db, TimeProvider clock, ILogger<WebhookResponse> logger, CancellationToken cancellationToken)
    {
        if (await FindAsync(db, id, cancellationToken) is not { } subscription)
        {
            return NotFound(id);
        }

        var now = clock.GetUtcNow().UtcDateTime;
        subscription.DeletedAt = now;
        subscription.Enabled = false;
        subscription.UpdatedAt = now;
        try
        {
            await db.SaveChangesAsync(cancellationToken);
        }
        catch (DbUpdateConcurrencyException)
        {
            // Another request deleted it first.
            return NotFound(id);
        }

        // Nothing is queued for it after the answer: the batches that read it before the delete have committed.
        await RecorderBatches.TryWaitForBatchesAsync(db, subscription.Id, logger);
        return TypedResults.NoContent();
    }

    /// <summary>The subscription, unless it does not exist or was deleted (its row stays until its deliveries are purged).</summary>
    internal static async Task<WebhookSubscriptionRecord?> FindAsync(StatusDbContext db, string id, CancellationToken cancellationToken) =>
        Guid.TryParse(id, out var subscriptionId)
            ? await db.WebhookSubscriptions.SingleOrDefaultAsync(s => s.Id == subscriptionId && s.DeletedAt == null, cancellationToken)
            : null;

    internal static ProblemHttpResult NotFound(string id) => ApiProblems.Problem(
        StatusCodes.Status404NotFound, ApiProblems.NotFound, "Webhook not found.", $"No webhook with id '{id}' exists.");

    private static async Task<Dictionary<string, string[]>> ValidateAsync(
        string? url, List<string>? events, bool required, WebhookOptions options, CancellationToken cancellationToken)
    {
        var errors = new Dictionary<string, string[]>();
        if (url is not null || required)
        {
            if (await WebhookTargets.ValidateAsync(url, options.AllowPrivateTargets, cancellationToken) is { } problem)
            {
                errors["url"] = [problem];
            }
        }

        if (events is not null || required)
        {
            if (events is not { Count: > 0 })
            {
                errors["events"] = [$"events must list at least one of: {string.Join(", ", WebhookEventTypes.All)}."];
            }
            else if (events.Any(e => e is null))
            {
                errors["events"] = [$"events must list event types, not null; use: {string.Join(", ", WebhookEventTypes.All)}."];
            }
            else if (events.FirstOrDefault(e => !WebhookEventTypes.IsKnown(e)) is { } unknown)
            {
                errors["events"] = [$"'{unknown}' is not an event type; use: {string.Join(", ", WebhookEventTypes.All)}."];
            }
        }

        return errors;
    }
}
