using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace EmailPlatform.ServiceDefaults.Messaging;

/// <summary>
/// Declares a service's part of the RabbitMQ topology (its queues, and their bindings to the message types it consumes)
/// without consuming anything: the <c>migrate</c> step of a service whose queues must exist before others publish to them.
/// RabbitMQ drops a published message that no queue is bound for, so on a first install the events the ingress and the
/// workers published before the status service's first replica had declared its queues would be lost, and the emails
/// they describe never recorded.
/// </summary>
/// <remarks>
/// The bus must have been configured with <c>topologyOnly</c> (<see cref="MessagingExtensions.AddMessageBus"/>): its
/// receive endpoints are then declared and bound by MassTransit's <c>DeployAsync</c> but never started.
/// </remarks>
public static partial class BusTopology
{
    /// <summary>
    /// How long the step waits for RabbitMQ before it fails and the migrations Job tries again: three tries and their
    /// back-offs fit in the Job's deadline (<c>migrations.activeDeadlineSeconds</c>, 240 s).
    /// </summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    /// <summary>
    /// Declares the topology on RabbitMQ; without <c>ConnectionStrings:RabbitMq</c> (a migration of the store alone) it
    /// says so and does nothing. Throws when RabbitMQ cannot be reached within <see cref="Timeout"/>.
    /// </summary>
    public static async Task DeployBusTopologyAsync(this IServiceProvider services, CancellationToken cancellationToken = default)
    {
        var logger = services.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(BusTopology).FullName!);
        if (services.GetRequiredService<BusTransport>() != BusTransport.RabbitMq)
        {
            Log.NoBroker(logger, MessagingExtensions.ConnectionStringName);
            return;
        }

        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(Timeout);
        try
        {
            await services.GetRequiredService<IBusControl>().DeployAsync(deadline.Token);
        }
        catch (Exception ex) when (deadline.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            // MassTransit keeps trying to connect until the deadline, then throws what the last try met (the broker
            // unreachable, the credentials refused).
            throw new TimeoutException(
                $"RabbitMQ (ConnectionStrings:{MessagingExtensions.ConnectionStringName}) could not be reached within {Timeout.TotalSeconds:0} s to declare the service's queues: {ex.Message}", ex);
        }

        Log.Deployed(logger);
    }

    private static partial class Log
    {
        [LoggerMessage(7003, LogLevel.Information,
            "ConnectionStrings:{Name} is not set: only the store was migrated; the service declares its queues when it starts.")]
        public static partial void NoBroker(ILogger logger, string name);

        [LoggerMessage(7004, LogLevel.Information, "Declared the service's queues and their bindings on RabbitMQ.")]
        public static partial void Deployed(ILogger logger);
    }
}
