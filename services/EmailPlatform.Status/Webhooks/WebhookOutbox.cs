using EmailPlatform.Status.Recording;
using EmailPlatform.Status.Storage;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;
using Microsoft.Extensions.Options;

namespace EmailPlatform.Status.Webhooks;

/// <summary>
/// Adds one delivery row per enabled subscription that wants an event, to the recorder's unit of work: the
/// deliveries commit (or roll back) with the event itself, and recording costs one insert more per subscriber.
/// </summary>
/// <remarks>
/// The deliveries of an event recorded before its email's details wait for them, up to
/// <see cref="WebhookOptions.DetailsWait"/>: they are written due that far ahead, so the dispatcher's claim, which takes
/// what is due through its index, passes them over with no condition of its own, and recording does nothing more than
/// write that time. When the details arrive, <see cref="CompleteAsync"/> writes their bodies again and makes them due.
/// </remarks>
public sealed class WebhookOutbox(StatusDbContext db, IOptions<WebhookOptions> options, TimeProvider clock)
{
    /// <summary>The enabled subscriptions, as the recorder batch's transaction read them (once: a few rows).</summary>
    private (IDbContextTransaction Transaction, List<WebhookSubscriptionRecord> Subscriptions)? _enabled;

    /// <summary>The delivery log's <c>last_error</c> of a delivery waiting for its email's details, until they come or it is sent.</summary>
    public const string WaitingForDetails =
        "Waiting for the email's details (from, to, subject, tags, metadata), not recorded yet: sent with them once they are, or without them at next_attempt_at.";

    /// <param name="email">The event's email, or null when its details are not recorded yet.</param>
    /// <param name="traceParent">The W3C <c>traceparent</c> of the consume that recorded the event: each attempt is a span under it.</param>
    public async Task AddAsync(EventRecord @event, EmailRecord? email, string? traceParent, CancellationToken cancellationToken)
    {
        if (!WebhookEventTypes.IsKnown(@event.Type))
        {
            return;
        }

        var wanted = (await EnabledAsync(cancellationToken))
            .Where(s => s.Events.Contains(@event.Type, StringComparer.Ordinal))
            .ToList();
        if (wanted.Count == 0)
        {
            return;
        }

        var payload = WebhookPayload.Serialize(@event, email);
        var now = clock.GetUtcNow().UtcDateTime;
        var wait = email is null ? options.Value.DetailsWait : TimeSpan.Zero;
        foreach (var subscription in wanted)
        {
            var delivery = NewDelivery(subscription.Id, @event, payload, withoutDetails: email is null, now, traceParent: traceParent);
            if (wait > TimeSpan.Zero)
            {
                delivery.NextAttemptAt = now + wait;
                delivery.LastError = WaitingForDetails;
            }

            db.WebhookDeliveries.Add(delivery);
        }
    }

    /// <summary>
    /// The enabled subscriptions, read once per transaction: every batch reads them anew, so a subscription created,
    /// changed, disabled or deleted through any replica applies to the next batch of every replica, and on PostgreSQL
    /// to every batch committed after the change was answered (<see cref="RecorderBatches.WaitForBatchesAsync"/>). A
    /// batch started again (<see cref="StatusRecorder"/>) is a new transaction, and reads them again.
    /// </summary>
    private async Task<List<WebhookSubscriptionRecord>> EnabledAsync(CancellationToken cancellationToken)
    {
        var transaction = db.Database.CurrentTransaction;
        if (_enabled is { } read && transaction is not null && ReferenceEquals(read.Transaction, transaction))
        {
            return read.Subscriptions;
        }

        var subscriptions = await db.WebhookSubscriptions.AsNoTracking().Where(s => s.Enabled && s.DeletedAt == null).ToListAsync(cancellationToken);
        _enabled = transaction is null ? null : (transaction, subscriptions);
        return subscriptions;
    }

    /// <summary>
    /// When an email's details arrive after some of its events (an outcome can overtake the accept: they travel on
    /// different queues): the bodies of those events' deliveries still to be made were written without the details
    /// (from, to, subject, tags, metadata), and are written again with them. Those that were waiting for them (not yet
    /// attempted) are due at once, in their place among the subscription's deliveries as though they had never waited;
    /// those attempted after the wait keep their retry schedule.
    /// </summary>
    public async Task CompleteAsync(EmailRecord email, CancellationToken cancellationToken)
    {
        var deliveries = Tracked(db.WebhookDeliveries, d => d.EmailId == email.Id);
        if (db.Entry(email).State != EntityState.Added)
        {
            deliveries.AddRange(await db.WebhookDeliveries.Where(d => d.EmailId == email.Id && d.Status == WebhookDeliveryStatus.Pending)
                .ToListAsync(cancellationToken));
        }

        deliveries = [.. deliveries.Where(d => d.Status == WebhookDeliveryStatus.Pending).Distinct()];
        if (deliveries.Count == 0)
        {
            return;
        }

        var eventIds = deliveries.Select(d => d.EventId).ToHashSet();
        var events = Tracked(db.Events, e => eventIds.Contains(e.Id)).ToDictionary(e => e.Id);
        eventIds.ExceptWith(events.Keys);
        if (eventIds.Count > 0)
        {
            foreach (var stored in await db.Events.AsNoTracking().Where(e => eventIds.Contains(e.Id)).ToListAsync(cancellationToken))
            {
                events[stored.Id] = stored;
            }
        }

        foreach (var delivery in deliveries)
        {
            if (events.TryGetValue(delivery.EventId, out var @event))
            {
                delivery.Payload = WebhookPayload.Serialize(@event, email);
                if (delivery.WithoutDetails && delivery.Attempts == 0)
                {
                    delivery.NextAttemptAt = delivery.CreatedAt;
                    delivery.LastError = null;
                }

                delivery.WithoutDetails = false;
            }
        }
    }

    /// <summary>
    /// The rows of <paramref name="set"/> the context tracks that match, without the change detection that reading
    /// <see cref="DbSet{TEntity}.Local"/> runs over every entity tracked, however unrelated: in a batch with many
    /// accepts that overtook their outcomes, that made recording quadratic in the batch (8% of the status service's CPU
    /// and 14% of its allocations while draining a backlog, in a profile). Deliveries and events are only ever added
    /// with <c>DbSet.Add</c>, tracked at once, or loaded, never reached through a navigation, so detection finds none.
    /// </summary>
    private List<T> Tracked<T>(DbSet<T> set, Func<T, bool> match)
        where T : class
    {
        var detect = db.ChangeTracker.AutoDetectChangesEnabled;
        db.ChangeTracker.AutoDetectChangesEnabled = false;
        try
        {
            return [.. set.Local.Where(match)];
        }
        finally
        {
            db.ChangeTracker.AutoDetectChangesEnabled = detect;
        }
    }

    /// <param name="withoutDetails">Whether <paramref name="payload"/> was written without the email's details (<see cref="WebhookDeliveryRecord.WithoutDetails"/>).</param>
    public static WebhookDeliveryRecord NewDelivery(
        Guid subscriptionId, EventRecord @event, string payload, bool withoutDetails, DateTime now, Guid? replayOf = null, string? traceParent = null) => new()
    {
        Id = Guid.CreateVersion7(),
        SubscriptionId = subscriptionId,
        MessageId = MessageIdFor(@event.Id),
        EventId = @event.Id,
        EmailId = @event.EmailId,
        EventType = @event.Type,
        Payload = payload,
        WithoutDetails = withoutDetails,
        CreatedAt = now,
        NextAttemptAt = now,
        ReplayOf = replayOf,
        TraceParent = traceParent,
    };

    public static string MessageIdFor(Guid eventId) => $"msg_{eventId:N}";
}
