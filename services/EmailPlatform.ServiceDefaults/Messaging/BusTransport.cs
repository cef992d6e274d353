namespace EmailPlatform.ServiceDefaults.Messaging;

/// <summary>
/// What the bus that <c>AddMessageBus</c> configured does with a message whose consume has not ended when the host
/// stops: RabbitMQ gives it again, to this or another consumer; the in-memory transport of the standalone host loses it
/// with the process, and the host puts back what was lost at its next start. A consumer that would hand a message back
/// to its queue on shutdown asks this first.
/// </summary>
public sealed class BusTransport
{
    public static readonly BusTransport RabbitMq = new(redeliversUnfinished: true);

    public static readonly BusTransport InMemory = new(redeliversUnfinished: false);

    private BusTransport(bool redeliversUnfinished) => RedeliversUnfinished = redeliversUnfinished;

    /// <summary>Whether a message still being consumed when the host stops is delivered again later.</summary>
    public bool RedeliversUnfinished { get; }
}
