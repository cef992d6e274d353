using System.Collections.Concurrent;
using EmailPlatform.Contracts;
using MassTransit;

namespace EmailPlatform.Status.Tests.Support;

/// <summary>
/// A bus of its own on the service's RabbitMQ virtual host, with one queue bound to the commands the bulk operations
/// publish (as the delivery workers and the ingress bind theirs): what arrives there is what really went out, in order.
/// </summary>
internal sealed class CommandListener : IAsyncDisposable
{
    private const string Queue = "bulk-commands-test";

    private readonly IBusControl _bus;

    private CommandListener(IBusControl bus) => _bus = bus;

    public ConcurrentQueue<object> Received { get; } = new();

    public IReadOnlyList<RetryRecipients> Retries => [.. Received.OfType<RetryRecipients>()];

    public IReadOnlyList<CancelEmail> Cancels => [.. Received.OfType<CancelEmail>()];

    public static async Task<CommandListener> StartAsync(Uri virtualHost)
    {
        CommandListener? listener = null;
        var bus = Bus.Factory.CreateUsingRabbitMq(cfg =>
        {
            cfg.Host(virtualHost);
            cfg.ReceiveEndpoint(Queue, e =>
            {
                // One at a time, in the queue's order, so that a message received means every one before it was (SendBehindAsync).
                e.ConcurrentMessageLimit = 1;
                e.Handler<RetryRecipients>(context => Receive(context.Message));
                e.Handler<CancelEmail>(context => Receive(context.Message));
            });
        });
        listener = new CommandListener(bus);
        await bus.StartAsync(new CancellationTokenSource(TimeSpan.FromSeconds(60)).Token);
        return listener;

        Task Receive(object message)
        {
            listener!.Received.Enqueue(message);
            return Task.CompletedTask;
        }
    }

    /// <summary>
    /// Sends <paramref name="message"/> straight into the listener's queue, behind everything the broker has put there
    /// so far (every publish it confirmed, every one from a bus that has stopped): once it is received, so is all that.
    /// </summary>
    public async Task SendBehindAsync(object message) =>
        await (await _bus.GetSendEndpoint(new Uri($"queue:{Queue}"))).Send(message, message.GetType());

    public async ValueTask DisposeAsync() => await _bus.StopAsync();
}
