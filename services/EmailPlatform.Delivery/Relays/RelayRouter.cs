using System.Collections.Concurrent;
using System.Threading.RateLimiting;
using Microsoft.Extensions.Options;

namespace EmailPlatform.Delivery.Relays;

/// <summary>
/// Chooses the relays for an attempt, in the order to try them: by <see cref="RelayOptions.Priority"/> (lowest
/// first), and within one priority in a random order weighted by <see cref="RelayOptions.Weight"/>, so traffic is
/// shared by weight and fails over to the next relay, then the next priority. Relays whose breaker is open are
/// left out; when every breaker is open, the list is empty and the recipients are deferred.
/// </summary>
/// <remarks>
/// <see cref="RelayOptions.MaxMessagesPerSecond"/> is enforced per worker replica (a token bucket here): the workers
/// share no state but the store, and a global limit would cost a store round trip per message. With N replicas
/// the relay sees at most N × the limit; set it to the relay's limit divided by the replica count.
/// </remarks>
internal sealed class RelayRouter(IOptions<DeliveryOptions> options, TimeProvider time)
{
    private readonly ConcurrentDictionary<string, RelayBreaker> _breakers = new(StringComparer.OrdinalIgnoreCase);
    private readonly ConcurrentDictionary<string, RateLimiter> _limits = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>The relay first in line when every breaker is closed (the lowest priority, first configured).</summary>
    public static RelayOptions Primary(DeliveryOptions options) => options.Relays.OrderBy(r => r.Priority).First();

    /// <summary>The relays to try for one attempt, each already admitted by its breaker.</summary>
    public IReadOnlyList<RelayOptions> Candidates()
    {
        var result = new List<RelayOptions>();
        foreach (var group in options.Value.Relays.GroupBy(r => r.Priority).OrderBy(g => g.Key))
        {
            var remaining = group.ToList();
            while (remaining.Count > 0)
            {
                var pick = PickWeighted(remaining);
                remaining.Remove(pick);
                result.Add(pick);
            }
        }

        return result;
    }

    /// <summary>Whether <paramref name="relay"/> may take a message now (its breaker is closed, or this is its probe).</summary>
    public bool TryEnter(RelayOptions relay) => Breaker(relay).TryEnter();

    public bool IsOpen(RelayOptions relay) => Breaker(relay).IsOpen;

    public BreakerState BreakerState(RelayOptions relay) => Breaker(relay).State;

    public void Succeeded(RelayOptions relay) => Breaker(relay).Succeeded();

    public void Abandoned(RelayOptions relay) => Breaker(relay).Abandoned();

    /// <returns>True when this failure opened the relay's breaker.</returns>
    public bool Failed(RelayOptions relay) => Breaker(relay).Failed();

    /// <summary>Waits for the relay's rate limit (<see cref="RelayOptions.MaxMessagesPerSecond"/>), if it has one.</summary>
    public async ValueTask WaitForRateLimitAsync(RelayOptions relay, CancellationToken cancellationToken)
    {
        if (relay.MaxMessagesPerSecond is not { } perSecond)
        {
            return;
        }

        var limiter = _limits.GetOrAdd(relay.Name, _ => new TokenBucketRateLimiter(new TokenBucketRateLimiterOptions
        {
            TokenLimit = perSecond,
            TokensPerPeriod = perSecond,
            ReplenishmentPeriod = TimeSpan.FromSeconds(1),
            QueueLimit = int.MaxValue,
            QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
            AutoReplenishment = true,
        }));
        using var lease = await limiter.AcquireAsync(1, cancellationToken);
    }

    private RelayBreaker Breaker(RelayOptions relay) => _breakers.GetOrAdd(relay.Name, _ => new RelayBreaker(options.Value, time));

    private static RelayOptions PickWeighted(List<RelayOptions> relays)
    {
        var total = relays.Sum(r => Math.Max(r.Weight, 1));
        var roll = Random.Shared.Next(total);
        foreach (var relay in relays)
        {
            roll -= Math.Max(relay.Weight, 1);
            if (roll < 0)
            {
                return relay;
            }
        }

        return relays[^1];
    }
}
