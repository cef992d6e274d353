using EmailPlatform.Delivery.Dkim;
using EmailPlatform.Delivery.Lanes;

namespace EmailPlatform.Delivery.Relays;

/// <summary>Configuration section <c>Delivery</c>: the upstream relays, SMTP timeouts, connection pooling and retries.</summary>
public sealed class DeliveryOptions
{
    public const string SectionName = "Delivery";

    /// <summary>The retry intervals when <see cref="RetrySchedule"/> is not configured: growing, then every 4 hours.</summary>
    public static readonly IReadOnlyList<TimeSpan> DefaultRetrySchedule =
    [
        TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(5), TimeSpan.FromMinutes(15), TimeSpan.FromMinutes(30),
        TimeSpan.FromHours(1), TimeSpan.FromHours(2), TimeSpan.FromHours(4),
    ];

    /// <summary>The upstream relays (<c>Delivery:Relays:0:Host</c>, env <c>Delivery__Relays__0__Host</c>, …).</summary>
    public List<RelayOptions> Relays { get; set; } = [];

    /// <summary>Routing rules by sender domain or tag (<c>Delivery:Routes:0:SenderDomain</c>, <c>:Tag</c>, <c>:Relays:0</c>).</summary>
    public List<RouteOptions> Routes { get; set; } = [];

    /// <summary>DKIM keys by sender domain (<c>Delivery:Dkim:0:Domain</c>, <c>:Selector</c>, <c>:PrivateKey</c> or <c>:PrivateKeyFile</c>).</summary>
    public List<DkimKeyOptions> Dkim { get; set; } = [];

    /// <summary>Concurrency and prefetch per priority lane (<c>Delivery:Lanes:High:ConcurrentMessageLimit</c>, …).</summary>
    public LanesOptions Lanes { get; set; } = new();

    /// <summary>How long connecting, the greeting, STARTTLS and AUTH may take together.</summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long any single read or write on an open SMTP connection may take.</summary>
    public TimeSpan CommandTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// How long writing the message data and waiting for the reply to its final dot may take (RFC 5321 suggests 10
    /// minutes; relays filter content then). A wait that runs out after the whole message went out is an unknown
    /// outcome: the relay may have taken it, and the retry goes out with the same Message-ID.
    /// </summary>
    public TimeSpan DataTimeout { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// How long publishing an outcome or handing a command back may wait for the broker to confirm it; then the attempt
    /// fails and is repeated (the redelivered command, the scheduler's next round) instead of waiting for ever.
    /// </summary>
    public TimeSpan PublishTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How many of this worker's mail transactions may be between <c>MAIL FROM</c> and the record of their outcome at
    /// once (<see cref="Sending.RecordingWindow"/>): the most messages a worker killed with <c>kill -9</c> can leave
    /// accepted by a relay and unrecorded, to be sent again. Not set: the relays' <c>MaxConnections</c> added up, one
    /// per connection, so the window never holds back a connection that has nothing unrecorded behind it.
    /// </summary>
    public int? MaxUnrecordedTransactions { get; set; }

    /// <summary>The bound in effect: <see cref="MaxUnrecordedTransactions"/>, or one per relay connection.</summary>
    public int EffectiveMaxUnrecordedTransactions => MaxUnrecordedTransactions ?? Math.Max(1, Relays.Sum(r => r.MaxConnections));

    /// <summary>The default of <see cref="MaxContentBytesInFlight"/>: 64 MiB.</summary>
    public const long DefaultMaxContentBytesInFlight = 64L * 1024 * 1024;

    /// <summary>
    /// How many bytes of stored content (the emails too large for the bus, by their <c>StoredContent.Size</c>) this
    /// worker may hold at once, loaded and built into messages (<see cref="Sending.ContentBudget"/>). An email waits for
    /// its share before its content is loaded; one larger than the whole budget is taken alone. Without it, every
    /// message the lanes have in flight (48 by default) loads its content before waiting for a connection.
    /// </summary>
    public long MaxContentBytesInFlight { get; set; } = DefaultMaxContentBytesInFlight;

    /// <summary>Quick retries of a failed connect (refused, reset, timed out), jittered, before the recipients are deferred.</summary>
    public int ConnectRetries { get; set; } = 2;

    /// <summary>A pooled connection is closed after this many messages and a new one opened.</summary>
    public int MaxMessagesPerConnection { get; set; } = 100;

    /// <summary>A pooled connection unused for this long is closed rather than reused.</summary>
    public TimeSpan ConnectionIdleTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Transport failures in a row after which a relay is skipped (its breaker opens) and traffic fails over.</summary>
    public int BreakerFailureThreshold { get; set; } = 5;

    /// <summary>How long an open breaker skips its relay before one message probes it again.</summary>
    public TimeSpan BreakerCoolDown { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Wait before attempt 2, 3, … of a deferred recipient (<c>Delivery:RetrySchedule:0</c> = <c>00:01:00</c>, …);
    /// the last interval repeats. Empty means <see cref="DefaultRetrySchedule"/>.
    /// </summary>
    public List<TimeSpan> RetrySchedule { get; set; } = [];

    /// <summary>How long after its first attempt a recipient is retried at all; then it fails as expired.</summary>
    public TimeSpan MaxRetryAge { get; set; } = TimeSpan.FromDays(2);

    private TimeSpan? _claimLease;

    /// <summary>
    /// How long a worker's claim on a recipient holds; a claim left by a crashed worker is taken over after it. It must
    /// outlast the longest attempt (<see cref="LongestAttempt"/>): when not set, 10 minutes, or the longest attempt and 30
    /// seconds when the SMTP timeouts make that longer (the defaults make an attempt 9.5 minutes at most), so that raising <see cref="DataTimeout"/> to RFC 5321's 10 minutes
    /// raises the lease with it; set to a value that does not outlast it, the worker refuses to start.
    /// </summary>
    public TimeSpan ClaimLease
    {
        get => _claimLease ?? Max(TimeSpan.FromMinutes(10), LongestAttempt + TimeSpan.FromSeconds(30));
        set => _claimLease = value;
    }

    /// <summary>A retry handed back to the bus and not picked up within this time is handed back again.</summary>
    public TimeSpan RequeueAfter { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>The longest the retry scheduler sleeps before looking for due retries that another replica recorded.</summary>
    public TimeSpan RetryPollInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How many due recipients the retry scheduler claims at once.</summary>
    public int RetryBatchSize { get; set; } = 200;

    /// <summary>
    /// How long the content of an email with a failed recipient is kept after its last recipient became final, so that
    /// an operator's bulk retry (<c>RetryRecipients</c>) can still send it. At most <see cref="RecordRetention"/>.
    /// </summary>
    public TimeSpan FailedContentRetention { get; set; } = TimeSpan.FromDays(3);

    /// <summary>Final delivery records are kept this long, to recognise a redelivered command; then deleted.</summary>
    public TimeSpan RecordRetention { get; set; } = TimeSpan.FromDays(7);

    /// <summary>
    /// Base URL of the status service (<c>http://status:8080</c>), whose suppression list the worker checks before
    /// SMTP. Not set: no suppression lookups over HTTP (the standalone host checks its own store instead).
    /// </summary>
    public Uri? StatusUrl { get; set; }

    /// <summary>
    /// How long a suppression lookup's answer (suppressed or not) is cached per address, and how old a copy of the list's
    /// filter a worker trusts (refreshed every quarter of it): the most a worker lags behind a change to the suppression
    /// list. <c>00:00:00</c> disables both.
    /// </summary>
    public TimeSpan SuppressionCacheDuration { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// How long one suppression lookup at the status service may take; then it counts as failed and the recipient as
    /// not suppressed (a status outage never stops delivery), unless the worker's suppression filter holds the address:
    /// that recipient is deferred.
    /// </summary>
    public TimeSpan SuppressionLookupTimeout { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// The longest one mail transaction on an open connection can take: the check of a pooled connection, MAIL FROM with
    /// the RCPT TOs, DATA (a <see cref="CommandTimeout"/> each), then the message and its final dot (<see cref="DataTimeout"/>).
    /// </summary>
    public TimeSpan LongestTransaction => (CommandTimeout * 3) + DataTimeout;

    /// <summary>The longest one attempt can take: connecting, with its retries (<see cref="ConnectTimeout"/> each), then the transaction.</summary>
    public TimeSpan LongestAttempt => (ConnectTimeout * (ConnectRetries + 1)) + LongestTransaction;

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;

    /// <summary>The schedule in effect: <see cref="RetrySchedule"/>, or the default when it is empty.</summary>
    public IReadOnlyList<TimeSpan> EffectiveRetrySchedule => RetrySchedule.Count > 0 ? RetrySchedule : DefaultRetrySchedule;

    /// <summary>The wait after attempt <paramref name="attempt"/> (1-based) failed temporarily.</summary>
    public TimeSpan RetryDelayAfter(int attempt)
    {
        var schedule = EffectiveRetrySchedule;
        return schedule[Math.Clamp(attempt - 1, 0, schedule.Count - 1)];
    }
}
