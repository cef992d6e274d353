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
            cfg.ReceiveEndpoint("bulk-commands-test", e =>
            {
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

    public async ValueTask DisposeAsync() => await _bus.StopAsync();
}
