using MassTransit;

namespace EmailPlatform.ServiceDefaults.Messaging;

/// <summary>
/// Marks a send or publish <c>mandatory</c> on RabbitMQ: when no queue is bound for it, the broker returns the message
/// instead of dropping it, and the send throws (MassTransit's <c>MessageReturnedException</c>, with publisher confirms
/// on), so the caller keeps what it sent and tries again later. For commands, which must reach a service that acts on
/// them; nothing on the in-memory transport of the standalone host.
/// </summary>
public static class Mandatory
{
    public static void Set(SendContext context)
    {
        if (context.TryGetPayload<RabbitMqSendContext>(out var rabbit))
        {
            rabbit.Mandatory = true;
        }
    }

    /// <summary>For <c>Publish</c> with a message type known only at run time.</summary>
    public static readonly IPipe<PublishContext> Publish = Pipe.Execute<PublishContext>(Set);
}
