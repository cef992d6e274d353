using EmailPlatform.ServiceDefaults.Messaging;
using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;

namespace EmailPlatform.Delivery.Monitoring;

/// <summary>
/// The number of messages waiting in each lane's queue, read from RabbitMQ with a passive queue declare over a
/// connection of its own (MassTransit does not expose queue depths). A lane whose queue does not exist yet is left
/// out. Only with RabbitMQ: the in-memory bus of the standalone host has no queue to ask.
/// </summary>
internal sealed class LaneDepths(Uri broker) : IAsyncDisposable
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private IConnection? _connection;

    public async Task<IReadOnlyDictionary<string, long>> ReadAsync(CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            if (_connection is not { IsOpen: true })
            {
                if (_connection is not null)
                {
                    await _connection.DisposeAsync();
                }

                var factory = new ConnectionFactory { Uri = broker, ClientProvidedName = "emailplatform-delivery-queue-depth" };
                _connection = await factory.CreateConnectionAsync(cancellationToken);
            }

            var depths = new Dictionary<string, long>();
            foreach (var lane in DeliveryLanes.All)
            {
                // A passive declare of a missing queue closes its channel (404): one channel per lane keeps the others.
                await using var channel = await _connection.CreateChannelAsync(cancellationToken: cancellationToken);
                try
                {
                    var queue = await channel.QueueDeclarePassiveAsync(lane, cancellationToken);
                    depths[lane] = queue.MessageCount;
                }
                catch (OperationInterruptedException)
                {
                    // Not declared yet: no worker has started on this broker.
                }
            }

            return depths;
        }
        finally
        {
            _gate.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_connection is not null)
        {
            await _connection.DisposeAsync();
        }

        _gate.Dispose();
    }
}
