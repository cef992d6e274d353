using System.Text;
using System.Text.Json;
using EmailPlatform.ServiceDefaults.Messaging;
using RabbitMQ.Client;

namespace EmailPlatform.Ingress.Tests.Support;

/// <summary>A queue of the test's own bound to the given delivery lanes' exchanges (all when none), to count the SendEmail commands sent.</summary>
internal sealed class CountingQueue : IAsyncDisposable
{
    private readonly IConnection _connection;
    private readonly IChannel _channel;
    private readonly string _queue;

    private CountingQueue(IConnection connection, IChannel channel, string queue)
    {
        _connection = connection;
        _channel = channel;
        _queue = queue;
    }

    public static async Task<CountingQueue> BindAsync(Uri broker, params IReadOnlyList<string> lanes)
    {
        var connection = await new ConnectionFactory { Uri = broker }.CreateConnectionAsync();
        var channel = await connection.CreateChannelAsync();
        var queue = await channel.QueueDeclareAsync("outbox-test-" + Guid.NewGuid().ToString("N"), durable: false, exclusive: false, autoDelete: false);
        foreach (var lane in lanes.Count == 0 ? DeliveryLanes.All : lanes)
        {
            // The same declaration MassTransit makes for the exchange it sends a lane's commands to.
            await channel.ExchangeDeclareAsync(lane, ExchangeType.Fanout, durable: true, autoDelete: false);
            await channel.QueueBindAsync(queue.QueueName, lane, "");
        }

        return new CountingQueue(connection, channel, queue.QueueName);
    }

    /// <summary>The email ids of every message in the queue, duplicates included.</summary>
    public async Task<List<Guid>> DrainAsync() =>
        [.. (await DrainMessagesAsync()).Select(m => m.GetProperty("emailId").GetGuid())];

    /// <summary>Every message in the queue (the envelope's <c>message</c>), duplicates included.</summary>
    public async Task<List<JsonElement>> DrainMessagesAsync()
    {
        var messages = new List<JsonElement>();
        while (await _channel.BasicGetAsync(_queue, autoAck: true) is { } message)
        {
            using var envelope = JsonDocument.Parse(Encoding.UTF8.GetString(message.Body.Span));
            messages.Add(envelope.RootElement.GetProperty("message").Clone());
        }

        return messages;
    }

    public async ValueTask DisposeAsync()
    {
        await _channel.QueueDeleteAsync(_queue);
        await _channel.DisposeAsync();
        await _connection.DisposeAsync();
    }
}
