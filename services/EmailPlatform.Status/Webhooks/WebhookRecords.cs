using EmailPlatform.ServiceDefaults.Paging;

namespace EmailPlatform.Status.Webhooks;

/// <summary>A webhook endpoint and the event types it wants.</summary>
public sealed class WebhookSubscriptionRecord : IListedRecord
{
    public Guid Id { get; set; }

    public required string Url { get; set; }

    public List<string> Events { get; set; } = [];

    /// <summary><c>whsec_</c> + base64 of the signing key; shown once, at creation.</summary>
    public required string Secret { get; set; }

    public bool Enabled { get; set; } = true;

    public DateTime? DisabledAt { get; set; }

    public string? DisabledReason { get; set; }

    /// <summary>Attempts failed in a row since the last success.</summary>
    public int ConsecutiveFailures { get; set; }

    /// <summary>When the current run of failures began; null after a success.</summary>
    public DateTime? FailingSince { get; set; }

    /// <summary>
    /// When the latest failed attempt of that run began; null after a success (and in rows from before the column, whose
    /// run then goes on with the next failure). A failure long after it starts a new run (<see cref="WebhookOptions.RunGap"/>).
    /// </summary>
    public DateTime? LastFailureAt { get; set; }

    public DateTime CreatedAt { get; set; }

    public DateTime UpdatedAt { get; set; }

    /// <summary>
    /// When it was deleted through the API; from then on the API no longer finds it, and it is disabled too, so that
    /// nothing more is queued or sent for it. Its deliveries are purged in the background and the row goes last
    /// (<see cref="DeletedSubscriptions"/>). A concurrency token: a change saved over a subscription that was loaded
    /// before it was deleted fails rather than bringing it back to life (a re-enable racing the delete).
    /// </summary>
    public DateTime? DeletedAt { get; set; }
}

/// <summary>
/// One event to send to one subscription: the outbox row written with the event, then the dispatcher's state.
/// <see cref="MessageId"/> is the Standard Webhooks <c>webhook-id</c>: the same on every attempt and replay.
/// </summary>
public sealed class WebhookDeliveryRecord
{
    public Guid Id { get; set; }

    public Guid SubscriptionId { get; set; }

    public required string MessageId { get; set; }

    public Guid EventId { get; set; }

    public Guid EmailId { get; set; }

    public required string EventType { get; set; }

    /// <summary>
    /// The JSON body, fixed when the event was recorded, and written again only when the email's details arrive after it
    /// (<see cref="WithoutDetails"/>) or an address in it is erased.
    /// </summary>
    public required string Payload { get; set; }

    /// <summary>
    /// Whether <see cref="Payload"/> lacks the email's details (from, to, subject, tags, metadata): the event was recorded
    /// before them. Such a delivery waits for them (<see cref="WebhookOptions.DetailsWait"/>, its <see cref="NextAttemptAt"/>
    /// that far ahead), and <see cref="WebhookOutbox.CompleteAsync"/> writes it again, due at once, when they come; one
    /// sent without them is built again from the event and the email when it is replayed. False for the rows of a status
    /// service from before the column.
    /// </summary>
    public bool WithoutDetails { get; set; }

    public string Status { get; set; } = WebhookDeliveryStatus.Pending;

    public int Attempts { get; set; }

    public DateTime CreatedAt { get; set; }

    public DateTime? NextAttemptAt { get; set; }

    /// <summary>A dispatcher's lease on the row; after it expires another dispatcher may claim it again.</summary>
    public DateTime? LockedUntil { get; set; }

    public DateTime? LastAttemptAt { get; set; }

    public int? LastStatusCode { get; set; }

    public int? LastLatencyMs { get; set; }

    public string? LastError { get; set; }

    public DateTime? DeliveredAt { get; set; }

    /// <summary>The delivery this one replays, if it is a replay.</summary>
    public Guid? ReplayOf { get; set; }

    /// <summary>
    /// The W3C <c>traceparent</c> of the consume that recorded the event, so that every attempt is a span in the email's
    /// trace; null for a replay (its attempts start traces of their own) and for rows written before it existed.
    /// </summary>
    public string? TraceParent { get; set; }

    public List<WebhookAttemptRecord> Log { get; set; } = [];
}

public static class WebhookDeliveryStatus
{
    public const string Pending = "pending";
    public const string Delivered = "delivered";

    /// <summary>Every attempt of the retry schedule failed.</summary>
    public const string Failed = "failed";

    /// <summary>
    /// Not sent because its subscription was disabled while it waited. It stays in the log, and a replay of its time
    /// range sends it again once the subscription is re-enabled.
    /// </summary>
    public const string Skipped = "skipped";

    /// <summary>Every status, as the delivery log's <c>status</c> filter takes them.</summary>
    public static readonly IReadOnlyList<string> All = [Pending, Delivered, Failed, Skipped];
}

/// <summary>One HTTP attempt of a delivery: the log the subscription's owner reads.</summary>
public sealed class WebhookAttemptRecord
{
    public Guid Id { get; set; }

    public Guid DeliveryId { get; set; }

    public int Attempt { get; set; }

    public DateTime AttemptedAt { get; set; }

    public int? StatusCode { get; set; }

    public int LatencyMs { get; set; }

    public string? Error { get; set; }
}
