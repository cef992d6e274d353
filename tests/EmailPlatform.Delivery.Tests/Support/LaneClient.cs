using System.Collections.Concurrent;
using EmailPlatform.Contracts;
using EmailPlatform.ServiceDefaults.Messaging;
using MassTransit;

namespace EmailPlatform.Delivery.Tests.Support;

/// <summary>
/// A bus of its own on the workers' RabbitMQ virtual host, for worker processes: it sends commands into the lanes as the
/// ingress does, and hears every outcome the workers publish on a queue bound as the status service binds its own.
/// </summary>
internal sealed class LaneClient : IAsyncDisposable
{
    private const string Queue = "outcomes-test";

    private readonly IBusControl _bus;

    private LaneClient(IBusControl bus, ConcurrentQueue<IRecipientOutcome> outcomes)
    {
        _bus = bus;
        Outcomes = outcomes;
    }

    /// <summary>Every outcome event received, repeats included (a re-publish carries the same event id).</summary>
    public ConcurrentQueue<IRecipientOutcome> Outcomes { get; }

    /// <summary>Starts the bus; the lanes must be bound before anything is sent (<c>LaneQueues.DeclareAsync</c>, or a worker).</summary>
    public static async Task<LaneClient> StartAsync(Uri virtualHost)
    {
        var outcomes = new ConcurrentQueue<IRecipientOutcome>();
        var bus = Bus.Factory.CreateUsingRabbitMq(cfg =>
        {
            cfg.Host(virtualHost, host => host.PublisherConfirmation = true);
            cfg.ReceiveEndpoint(Queue, e =>
            {
                e.Handler<EmailDelivered>(context => Keep(context.Message));
                e.Handler<EmailDeferred>(context => Keep(context.Message));
                e.Handler<EmailBounced>(context => Keep(context.Message));
                e.Handler<EmailFailed>(context => Keep(context.Message));
                e.Handler<EmailSuppressed>(context => Keep(context.Message));
            });
        });
        using var starting = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await bus.StartAsync(starting.Token);
        return new LaneClient(bus, outcomes);

        Task Keep(IRecipientOutcome outcome)
        {
            outcomes.Enqueue(outcome);
            return Task.CompletedTask;
        }
    }

    /// <summary>Sends the command into its priority lane, as the ingress does.</summary>
    public Task SendAsync(SendEmail email) => DeliveryLanes.SendAsync(_bus, email, CancellationToken.None);

    public async ValueTask DisposeAsync() => await _bus.StopAsync();
}
