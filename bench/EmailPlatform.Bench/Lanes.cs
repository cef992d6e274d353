using EmailPlatform.ServiceDefaults.Messaging;
using RabbitMQ.Client;

namespace EmailPlatform.Bench;

/// <summary>
/// <c>--declare-lanes amqp://…/vhost</c>: declares each delivery lane's exchange bound to a queue of the same name in the
/// benchmark's virtual host, as the delivery workers do. The ingress sends <c>SendEmail</c> into its lane as a
/// mandatory message; without a bound queue the broker would return every one and the outbox publisher would sit in
/// its back-off instead of doing the work it does in production while the accepts are measured.
/// </summary>
internal static class Lanes
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
