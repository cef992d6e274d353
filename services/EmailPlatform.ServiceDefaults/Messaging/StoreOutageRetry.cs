using EmailPlatform.ServiceDefaults.Storage;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace EmailPlatform.ServiceDefaults.Messaging;

/// <summary>
/// Rides out an outage of the store where a message is consumed. A consume that failed because the store could not
/// be reached (<see cref="StoreErrors.IsUnavailable"/>: refused, reset, timed out, shutting down) is tried again after
/// about 2 s, 3 s, 5 s, 9 s, 17 s and then every 30 s (each ±25%), for about <see cref="Span"/> in all, with the
/// message held unacknowledged meanwhile: nothing was decided without the store, so nothing is failed for it. A message
/// the endpoint cannot record is not worth taking off the queue either, so while every permit waits here the endpoint
/// takes no more. The span stays under RabbitMQ's default <c>consumer_timeout</c> (30 minutes), after which the broker
/// would close the channel. A message whose store is still out of reach after it is put back at the tail of its own
/// queue (<see cref="StoreOutagePutBack"/>), not faulted: it waits for the store again, however long the outage, and
/// an event the status service must record or a cancel the ingress must apply is never parked in an error queue for it.
/// </summary>
/// <remarks>
/// Add it before the endpoint's own retry policy, which must then <see cref="IgnoreOutages"/>: MassTransit's outer retry
/// filter does not retry an exception an inner one has handled and given up on.
/// </remarks>
public static class StoreOutageRetry
{
    /// <summary>Tries after the first failure.</summary>
    public const int Attempts = 50;

    /// <summary>About how long a message waits for the store before it is put back: the sum of the intervals below.</summary>
    public static readonly TimeSpan Span = TimeSpan.FromMinutes(23);

    /// <summary>
    /// Waits for the store (<see cref="StoreOutageSchedule"/>, <see cref="StoreOutageSchedule.Default"/> unless the
    /// container holds another), then puts a message that still finds it out of reach back into its queue.
    /// </summary>
    public static void UseStoreOutageRetry(this IReceiveEndpointConfigurator endpoint, IRegistrationContext context)
    {
        // Connected first, so that for every message type its filter runs outside the retry added next.
        StoreOutagePutBack.Attach(endpoint, context.GetRequiredService<ILoggerFactory>());
        endpoint.UseStoreOutageRetryThenFault(context);
    }

    /// <summary>
    /// Waits for the store as <see cref="UseStoreOutageRetry"/> does, but lets a message that still finds it out of reach
    /// fault: for the delivery lanes, whose fault consumer puts the command back into its lane itself.
    /// </summary>
    public static void UseStoreOutageRetryThenFault(this IReceiveEndpointConfigurator endpoint, IRegistrationContext context)
    {
        var schedule = context.GetService<StoreOutageSchedule>() ?? StoreOutageSchedule.Default;
        endpoint.UseMessageRetry(retry =>
        {
            retry.Handle<Exception>(StoreErrors.IsUnavailable);
            retry.Exponential(schedule.Attempts, schedule.MinInterval, schedule.MaxInterval, schedule.IntervalDelta);
        });
    }

    /// <summary>Leaves store outages to <see cref="UseStoreOutageRetry"/>, in an endpoint's own (inner) retry policy.</summary>
    public static void IgnoreOutages(this IRetryConfigurator retry) => retry.Ignore<Exception>(StoreErrors.IsUnavailable);
}

/// <summary>
/// How long <see cref="StoreOutageRetry"/> waits for the store: MassTransit's exponential retry with these arguments.
/// Every host uses <see cref="Default"/>; a test that cannot wait 23 minutes registers a shorter one in the container.
/// </summary>
public sealed record StoreOutageSchedule(int Attempts, TimeSpan MinInterval, TimeSpan MaxInterval, TimeSpan IntervalDelta)
{
    /// <summary>About <see cref="StoreOutageRetry.Span"/> in <see cref="StoreOutageRetry.Attempts"/> tries.</summary>
    public static StoreOutageSchedule Default { get; } =
        new(StoreOutageRetry.Attempts, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(1));
}
