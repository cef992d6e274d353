using EmailPlatform.ServiceDefaults.Storage;
using MassTransit;

namespace EmailPlatform.ServiceDefaults.Messaging;

/// <summary>
/// Rides out an outage of the store where a message is consumed. A consume that failed because the store could not
/// be reached (<see cref="StoreErrors.IsUnavailable"/>: refused, reset, timed out, shutting down) is tried again after
/// about 2 s, 3 s, 5 s, 9 s, 17 s and then every 30 s (each ±25%), for about <see cref="Span"/> in all, with the
/// message held unacknowledged meanwhile: nothing was decided without the store, so nothing is failed for it. A message
/// the endpoint cannot record is not worth taking off the queue either, so while every permit waits here the endpoint
/// takes no more. The span stays under RabbitMQ's default <c>consumer_timeout</c> (30 minutes), after which the broker
/// would close the channel; a message still failing after it faults as any other would.
/// </summary>
/// <remarks>
/// Add it before the endpoint's own retry policy, which must then <see cref="IgnoreOutages"/>: MassTransit's outer retry
/// filter does not retry an exception an inner one has handled and given up on.
/// </remarks>
public static class StoreOutageRetry
{
    /// <summary>Tries after the first failure.</summary>
    public const int Attempts = 50;

    /// <summary>About how long a message waits for the store: the sum of the intervals below.</summary>
    public static readonly TimeSpan Span = TimeSpan.FromMinutes(23);

    public static void UseStoreOutageRetry(this IReceiveEndpointConfigurator endpoint) =>
        endpoint.UseMessageRetry(retry =>
        {
            retry.Handle<Exception>(StoreErrors.IsUnavailable);
            retry.Exponential(Attempts, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(1));
        });

    /// <summary>Leaves store outages to <see cref="UseStoreOutageRetry"/>, in an endpoint's own (inner) retry policy.</summary>
    public static void IgnoreOutages(this IRetryConfigurator retry) => retry.Ignore<Exception>(StoreErrors.IsUnavailable);
}
