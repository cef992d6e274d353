using EmailPlatform.ServiceDefaults.Messaging;
using RabbitMQ.Client;

namespace EmailPlatform.Ingress.Tests.Support;

/// <summary>
/// Stands in for the delivery workers' side of the lanes in an ingress test's virtual host: each lane's exchange
/// bound to a queue of the same name, as a worker declares them. The ingress sends <c>SendEmail</c> as mandatory,
/// so without a bound queue the broker would return it and the outbox would keep it.
/// </summary>
internal static class LaneQueues
{
    public static async Task DeclareAsync(Uri broker)
    {
        await using var connection = await new ConnectionFactory { Uri = broker }.CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync();
        foreach (var lane in DeliveryLanes.All)
        {
            await channel.ExchangeDeclareAsync(lane, ExchangeType.Fanout, durable: true, autoDelete: false);
            await channel.QueueDeclareAsync(lane, durable: true, exclusive: false, autoDelete: false);
            await channel.QueueBindAsync(lane, lane, "");
        }
    }
}
