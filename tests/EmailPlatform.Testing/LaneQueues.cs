using EmailPlatform.ServiceDefaults.Messaging;
using RabbitMQ.Client;

namespace EmailPlatform.Testing;

/// <summary>
/// Stands in for the delivery workers' side of the lanes in a virtual host without workers (ingress tests, the accept
/// benchmark): each lane's exchange bound to a quorum queue of the same name, as a worker declares them, so that a
/// worker started later in the same virtual host finds them as it would have made them. The ingress sends
/// <c>SendEmail</c> as mandatory, so without a bound queue the broker would return it and the outbox would keep it.
/// </summary>
public static class LaneQueues
{
    public static async Task DeclareAsync(Uri broker)
    {
        await using var connection = await new ConnectionFactory { Uri = broker }.CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync();
        var quorum = new Dictionary<string, object?> { ["x-queue-type"] = "quorum" };
        foreach (var lane in DeliveryLanes.All)
        {
            await channel.ExchangeDeclareAsync(lane, ExchangeType.Fanout, durable: true, autoDelete: false);
            await channel.QueueDeclareAsync(lane, durable: true, exclusive: false, autoDelete: false, arguments: quorum);
            await channel.QueueBindAsync(lane, lane, "");
        }
    }
}
