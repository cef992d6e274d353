using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using EmailPlatform.ServiceDefaults.Storage;
using MassTransit;
using MassTransit.Configuration;
using MassTransit.Context;
using MassTransit.Serialization;
using Microsoft.Extensions.Logging;

namespace EmailPlatform.ServiceDefaults.Messaging;

/// <summary>
/// What becomes of a message whose store stayed out of reach for all of <see cref="StoreOutageRetry"/>'s tries: it goes
/// back to the tail of its own queue, the same message with its message id, correlation and conversation ids and
/// headers (trace context included), and its consume completes. It is tried again, for as long again, after what is
/// ahead of it, so an outage of any length fails nothing and parks nothing in an error queue, and the consumers'
/// idempotency (the status service's by event id, the ingress's cancel that leaves a canceled email alone) makes a
/// message that did get through once harmless the second time. Counted in <c>emailplatform.messages.put_back</c>.
/// </summary>
/// <remarks>
/// MassTransit's retry filter rethrows the consumer's own exception when it gives up, so the filter here sees the store's
/// error, as <see cref="StoreErrors.IsUnavailable"/> knows it. It runs outside that retry for every message type of the
/// endpoint, and the retry reports the faults it held back when it gives up; they stay held here, so no
/// <see cref="Fault{T}"/> is published for a message that was put back, and they are reported as before when the message
/// faults after all (another error, or a put-back the broker refused). The message goes to <c>exchange:</c> and its
/// queue's name, the exchange every receive endpoint binds to its queue: on RabbitMQ a send to the queue itself would
/// declare it again with a classic queue's arguments, which the quorum queue refuses; the in-memory transport of the
/// standalone host has the same exchange.
/// </remarks>
public static class StoreOutagePutBack
{
    public const string MeterName = "EmailPlatform.Messaging";

    private static readonly Meter Meter = new(MeterName);

    private static readonly Counter<long> PutBackCount = Meter.CreateCounter<long>(
        "emailplatform.messages.put_back", "{message}", "Messages put back into their queue because their store stayed out of reach.");

    /// <summary>Puts the put-back filter into every message type's pipe of <paramref name="endpoint"/>, ahead of what is added after it.</summary>
    public static void Attach(IConsumePipeConfigurator endpoint, ILoggerFactory loggers) =>
        _ = new Observer(endpoint, loggers.CreateLogger(typeof(StoreOutagePutBack).FullName!));

    /// <summary>The queue a message was received from: the last segment of the endpoint's input address.</summary>
    internal static string QueueOf(Uri inputAddress) => inputAddress.AbsolutePath.TrimEnd('/').Split('/')[^1];

    private sealed class Observer : ConfigurationObserver, IMessageConfigurationObserver
    {
        private readonly ILogger _logger;

        public Observer(IConsumePipeConfigurator endpoint, ILogger logger)
            : base(endpoint)
        {
            _logger = logger;
            Connect(this);
        }

        public void MessageConfigured<TMessage>(IConsumePipeConfigurator configurator)
            where TMessage : class =>
            configurator.AddPipeSpecification(new Specification<TMessage>(new Filter<TMessage>(_logger)));
    }

    private sealed class Specification<TMessage>(Filter<TMessage> filter) : IPipeSpecification<ConsumeContext<TMessage>>
        where TMessage : class
    {
        public void Apply(IPipeBuilder<ConsumeContext<TMessage>> builder) => builder.AddFilter(filter);

        public IEnumerable<ValidationResult> Validate() => [];
    }

    private sealed class Filter<TMessage>(ILogger logger) : IFilter<ConsumeContext<TMessage>>
        where TMessage : class
    {
        public void Probe(ProbeContext context) => context.CreateFilterScope("storeOutagePutBack");

        public async Task Send(ConsumeContext<TMessage> context, IPipe<ConsumeContext<TMessage>> next)
        {
            var held = new HeldOutageFaults<TMessage>(context);
            try
            {
                await next.Send(held);
                return;
            }
            catch (Exception exception) when (StoreErrors.IsUnavailable(exception) && !context.CancellationToken.IsCancellationRequested)
            {
                // Outside the catch below: a put-back the broker refused faults the message as before.
            }
            catch
            {
                await held.ReportAsync();
                throw;
            }

            try
            {
                var queue = QueueOf(context.ReceiveContext.InputAddress);
                var endpoint = await context.GetSendEndpoint(new Uri($"exchange:{queue}"));
                await endpoint.Send(context.Message, new ForwardMessagePipe<TMessage>(context), context.CancellationToken);
                // As MassTransit's own redelivery does once the message is on its way again: delivered, so not dead-lettered.
                await context.NotifyConsumed(context, context.ReceiveContext.ElapsedTime, nameof(StoreOutagePutBack));
                PutBackCount.Add(1, new KeyValuePair<string, object?>("emailplatform.queue", queue));
                Log.PutBack(logger, typeof(TMessage).Name, context.MessageId, queue);
            }
            catch
            {
                await held.ReportAsync();
                throw;
            }
        }
    }

    /// <summary>
    /// The consume context the retry filter gets: it keeps back the faults notified for a store outage (the retry notifies
    /// them when it gives up) until the filter knows whether the message faults or goes back into its queue.
    /// </summary>
    private sealed class HeldOutageFaults<TMessage>(ConsumeContext<TMessage> inner) : ConsumeContextScope<TMessage>(inner)
        where TMessage : class
    {
        private readonly ConcurrentQueue<Func<Task>> _held = new();

        public override Task NotifyFaulted<T>(ConsumeContext<T> context, TimeSpan duration, string consumerType, Exception exception)
        {
            if (!StoreErrors.IsUnavailable(exception))
            {
                return base.NotifyFaulted(context, duration, consumerType, exception);
            }

            _held.Enqueue(() => base.NotifyFaulted(context, duration, consumerType, exception));
            return Task.CompletedTask;
        }

        public async Task ReportAsync()
        {
            while (_held.TryDequeue(out var notify))
            {
                await notify();
            }
        }
    }
}

internal static partial class Log
{
    [LoggerMessage(7002, LogLevel.Warning,
        "The store stayed out of reach while a {MessageType} ({MessageId}) was retried: it is put back at the tail of {Queue}, to wait for the store again")]
    public static partial void PutBack(ILogger logger, string messageType, Guid? messageId, string queue);
}
