using System.Text.RegularExpressions;
using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;

namespace EmailPlatform.Testing;

/// <summary>
/// What a test of a long store outage looks at: whether a service put a message back into a queue (its
/// <c>emailplatform_messages_put_back_total</c>), and what waits in a queue of the broker (an endpoint's <c>_error</c>).
/// </summary>
public static class PutBackProbe
{
    /// <summary>Whether the service behind <paramref name="client"/> has put a message back into <paramref name="queue"/>.</summary>
    public static async Task<bool> PutBackAsync(HttpClient client, string queue)
    {
        var metrics = await client.GetStringAsync(new Uri("/metrics", UriKind.Relative));
        return Regex.IsMatch(metrics, "emailplatform_messages_put_back_total\\{[^}]*emailplatform_queue=\"" + Regex.Escape(queue) + "\"[^}]*\\} [1-9]");
    }

    /// <summary>The messages ready in <paramref name="queue"/>; none when it does not exist (MassTransit makes an error queue for its first message).</summary>
    public static async Task<uint> MessagesInAsync(Uri broker, string queue)
    {
        await using var connection = await new ConnectionFactory { Uri = broker }.CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync();
        try
        {
            return (await channel.QueueDeclarePassiveAsync(queue)).MessageCount;
        }
        catch (OperationInterruptedException e) when (e.ShutdownReason?.ReplyCode == 404)
        {
            return 0;
        }
    }
}
