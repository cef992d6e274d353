using EmailPlatform.ServiceDefaults.Storage;

namespace EmailPlatform.Status.Webhooks;

/// <summary>Configuration section <c>Webhooks</c>.</summary>
public sealed class WebhookOptions
{
    public const string SectionName = "Webhooks";

    /// <summary>5 s, 30 s, 2 min, 10 min, 30 min, 1 h, 2 h, 4 h, 8 h, 8 h: eleven attempts over about a day.</summary>
    public static readonly IReadOnlyList<TimeSpan> DefaultRetrySchedule =
    [
        TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(30), TimeSpan.FromMinutes(2), TimeSpan.FromMinutes(10),
        TimeSpan.FromMinutes(30), TimeSpan.FromHours(1), TimeSpan.FromHours(2), TimeSpan.FromHours(4),
        TimeSpan.FromHours(8), TimeSpan.FromHours(8),
    ];

    /// <summary>Allow targets that resolve to private, loopback or link-local addresses (tests, private networks).</summary>
    public bool AllowPrivateTargets { get; set; }

    /// <summary>The wait before each retry; after the last one fails the delivery is <c>failed</c>.</summary>
    public TimeSpan[]? RetrySchedule { get; set; }

    /// <summary>How long one HTTP attempt may take.</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How often the dispatcher looks for due deliveries when it found none.</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How many deliveries a dispatcher claims at once, at most: it never claims more than it has free request slots.</summary>
    public int BatchSize { get; set; } = 50;

    /// <summary>How many HTTP requests a dispatcher has in flight.</summary>
    public int MaxConcurrency { get; set; } = 8;

    /// <summary>
    /// How many of those one subscription may hold. An endpoint that answers slowly or not at all then ties up this many
    /// slots until its requests time out, and the other subscriptions' deliveries go out through the rest. Per dispatcher:
    /// each replica applies it to its own requests.
    /// </summary>
    public int MaxConcurrencyPerSubscription { get; set; } = 4;

    /// <summary>A subscription whose attempts all failed for this long …</summary>
    public TimeSpan DisableAfter { get; set; } = TimeSpan.FromDays(3);

    /// <summary>… and at least this many times in a row is disabled.</summary>
    public int DisableAfterFailures { get; set; } = 50;

    /// <summary>
    /// How long the deliveries of an event recorded before its email's details (an outcome can overtake the accept: they
    /// travel on different queues) wait for them: once the details are recorded the deliveries are written again with
    /// them and are due at once; after this long they go out without them. Zero sends them at once, without the details.
    /// Five minutes covers the lag between the two queues while a backlog drains: each drains at its own pace (an accept
    /// carries the bodies, or has them read from the store), and at about 3,000 events a second a million, after an
    /// outage on a busy day, take some six minutes, so an accept can trail its outcomes by minutes. The wait costs those
    /// minutes only to the rare delivery whose details never come (an accept that faulted to the error queue).
    /// </summary>
    public TimeSpan DetailsWait { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// Rows changed per statement when a disabled subscription's pending deliveries are marked skipped (right after the
    /// disable, and by the dispatcher's housekeeping) and when a deleted subscription's deliveries are purged: each
    /// statement is short and committed on its own. Not configuration; tests change it.
    /// </summary>
    internal int HousekeepingBatchSize { get; set; } = BatchedDeletes.DefaultBatchSize;

    /// <summary>
    /// Statements per housekeeping pass (one every <see cref="WebhookMetrics.PendingRefresh"/>, before a round of
    /// sends), for the skip and for the purge each: a large one goes on over many passes rather than holding up the
    /// sends. Not configuration; tests change it.
    /// </summary>
    internal int HousekeepingBatchesPerPass { get; set; } = 20;

    public IReadOnlyList<TimeSpan> Schedule => RetrySchedule is { Length: > 0 } schedule ? schedule : DefaultRetrySchedule;

    /// <summary>
    /// How long after a failed attempt the next failure still continues the same run (<see cref="DisableAfter"/>): twice
    /// the schedule's longest wait and one <see cref="Timeout"/> (16 h 10 s by default). A receiver that stays down is
    /// tried at least that often while anything for it is pending; a subscription that had nothing to send for longer
    /// has not been failing all that time, and a short outage after such a quiet spell does not disable it.
    /// </summary>
    public TimeSpan RunGap => (2 * Schedule.Max()) + Timeout;
}
