using EmailPlatform.Contracts;

namespace EmailPlatform.Delivery.Lanes;

/// <summary>
/// How one priority lane is consumed (<c>Delivery:Lanes:High</c>, <c>:Normal</c>, <c>:Bulk</c>). Unset values follow
/// from the first relay's <c>MaxConnections</c>: <see cref="MessagesPerConnection"/> messages per connection, and a
/// prefetch of twice that. Several per connection keep the connections busy: the next message is claimed and waiting
/// when a connection comes free, instead of the connection sitting idle while its last message is recorded and
/// published. That does not widen the one duplicate window: however many messages are in flight, no more transactions
/// are between <c>MAIL FROM</c> and their record than <c>Delivery:MaxUnrecordedTransactions</c> (one per connection,
/// <see cref="Sending.RecordingWindow"/>). Each lane alone can keep every connection busy, and since a waiting message
/// of a higher lane always gets the next free connection first (<see cref="Smtp.SmtpConnectionPool"/>), a bulk backlog
/// delays a high-priority email by at most the one SMTP transaction that frees a connection.
/// </summary>
public sealed class LaneOptions
{
    /// <summary>Messages in flight per relay connection when <see cref="ConcurrentMessageLimit"/> is not set.</summary>
    public const int MessagesPerConnection = 4;

    /// <summary>How many messages of this lane one worker handles at once.</summary>
    public int? ConcurrentMessageLimit { get; set; }

    /// <summary>How many messages of this lane the broker hands one worker ahead (RabbitMQ prefetch).</summary>
    public int? PrefetchCount { get; set; }

    /// <summary>The concurrency in effect for a primary relay with <paramref name="maxConnections"/> connections.</summary>
    public int EffectiveConcurrency(int maxConnections) => ConcurrentMessageLimit ?? maxConnections * MessagesPerConnection;

    /// <summary>The prefetch in effect for a primary relay with <paramref name="maxConnections"/> connections.</summary>
    public int EffectivePrefetch(int maxConnections) => PrefetchCount ?? EffectiveConcurrency(maxConnections) * 2;
}

/// <summary>The three lanes' settings (<c>Delivery:Lanes</c>).</summary>
public sealed class LanesOptions
{
    public LaneOptions High { get; set; } = new();

    public LaneOptions Normal { get; set; } = new();

    public LaneOptions Bulk { get; set; } = new();

    public LaneOptions For(EmailPriority priority) => priority switch
    {
        EmailPriority.High => High,
        EmailPriority.Bulk => Bulk,
        _ => Normal,
    };
}
