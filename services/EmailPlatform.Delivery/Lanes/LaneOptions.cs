using EmailPlatform.Contracts;

namespace EmailPlatform.Delivery.Lanes;

/// <summary>
/// How one priority lane is consumed (<c>Delivery:Lanes:High</c>, <c>:Normal</c>, <c>:Bulk</c>). Unset values follow
/// from the first relay's <c>MaxConnections</c>: <see cref="MessagesPerConnection"/> message per connection, and a
/// prefetch of twice that. A higher limit keeps the connections busier (the next message is claimed and waiting while
/// one is recorded and published: about twice the throughput at 4 per connection in bench/delivery-speed.sh), but it
/// widens the one duplicate window: during a store outage every message in flight, not only one per connection, can
/// hold a relay's 250 that cannot be recorded. Each lane alone can keep every connection busy, and since a waiting
/// message of a higher lane always gets the next free connection first (<see cref="Smtp.SmtpConnectionPool"/>), a bulk
/// backlog delays a high-priority email by at most the one SMTP transaction that frees a connection.
/// </summary>
public sealed class LaneOptions
{
    /// <summary>Messages in flight per relay connection when <see cref="ConcurrentMessageLimit"/> is not set.</summary>
    public const int MessagesPerConnection = 1;

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
