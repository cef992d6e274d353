using EmailPlatform.Contracts;

namespace EmailPlatform.Delivery.Lanes;

/// <summary>
/// How one priority lane is consumed (<c>Delivery:Lanes:High</c>, <c>:Normal</c>, <c>:Bulk</c>). Unset values default
/// to the first relay's <c>MaxConnections</c>: each lane alone can keep every connection busy, and since a waiting
/// message of a higher lane always gets the next free connection first (<see cref="Smtp.SmtpConnectionPool"/>), a
/// bulk backlog delays a high-priority email by at most the one SMTP transaction that frees a connection.
/// </summary>
public sealed class LaneOptions
{
    /// <summary>How many messages of this lane one worker handles at once.</summary>
    public int? ConcurrentMessageLimit { get; set; }

    /// <summary>How many messages of this lane the broker hands one worker ahead (RabbitMQ prefetch).</summary>
    public int? PrefetchCount { get; set; }
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
