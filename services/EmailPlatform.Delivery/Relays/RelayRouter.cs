using System.Collections.Concurrent;
using EmailPlatform.Contracts;
using Microsoft.Extensions.Options;
using MimeKit;

namespace EmailPlatform.Delivery.Relays;

/// <summary>
/// Chooses the relays for an attempt, in the order to try them: by <see cref="RelayOptions.Priority"/> (lowest
/// first), and within one priority in a random order weighted by <see cref="RelayOptions.Weight"/>, so traffic is
/// shared by weight and fails over to the next relay, then the next priority. Relays whose breaker is open are
/// left out; when every breaker is open, the list is empty and the recipients are deferred. A routing rule
/// (<c>Delivery:Routes</c>, by sender domain or tag) narrows the relays an email may use.
/// </summary>
/// <remarks>
/// <see cref="RelayOptions.MaxMessagesPerSecond"/> is enforced per worker replica (a token bucket here): the workers
/// share no state but the store, and a global limit would cost a store round trip per message. With N replicas
/// the relay sees at most N × the limit; set it to the relay's limit divided by the replica count. Its waiters are served
/// by priority (<see cref="RelayRateLimit"/>).
/// </remarks>
internal sealed class RelayRouter(IOptions<DeliveryOptions> options, TimeProvider time)
{
    private readonly ConcurrentDictionary<string, RelayBreaker> _breakers = new(StringComparer.OrdinalIgnoreCase);
    private readonly ConcurrentDictionary<string, RelayRateLimit> _limits = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>The relay first in line when every breaker is closed (the lowest priority, first configured).</summary>
    public static RelayOptions Primary(DeliveryOptions options) => options.Relays.OrderBy(r => r.Priority).First();

    /// <summary>
    /// The relays to try for one attempt of <paramref name="email"/>, in order: those of the first
    /// <c>Delivery:Routes</c> rule it matches, else all of them.
    /// </summary>
    public IReadOnlyList<RelayOptions> Candidates(SendEmail email) => Candidates(RouteFor(email));

    /// <summary>The relays to try for one attempt among <paramref name="relays"/> (all when null).</summary>
    public IReadOnlyList<RelayOptions> Candidates(IReadOnlyCollection<RelayOptions>? relays = null)
    {
        var result = new List<RelayOptions>();
        foreach (var group in (relays ?? options.Value.Relays).GroupBy(r => r.Priority).OrderBy(g => g.Key))
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

    /// <summary>
    /// Whether <paramref name="relay"/> may take a message now (its breaker is closed, or this is its probe:
    /// <paramref name="probe"/>, to pass to <see cref="Abandoned"/>).
    /// </summary>
    public bool TryEnter(RelayOptions relay, out bool probe) => Breaker(relay).TryEnter(out probe);

    public BreakerState BreakerState(RelayOptions relay) => Breaker(relay).State;

    public void Succeeded(RelayOptions relay) => Breaker(relay).Succeeded();

    public void Abandoned(RelayOptions relay, bool probe) => Breaker(relay).Abandoned(probe);

    /// <returns>True when this failure opened the relay's breaker.</returns>
    public bool Failed(RelayOptions relay) => Breaker(relay).Failed();

    /// <summary>
    /// Waits for the relay's rate limit (<see cref="RelayOptions.MaxMessagesPerSecond"/>), if it has one. Waiters get
    /// tokens by <paramref name="priority"/>, like the relay's connections (<see cref="RelayRateLimit"/>): a bulk backlog
    /// waiting for tokens does not hold a high-priority email back.
    /// </summary>
    public ValueTask WaitForRateLimitAsync(RelayOptions relay, EmailPriority priority, CancellationToken cancellationToken) =>
        relay.MaxMessagesPerSecond is { } perSecond
            ? _limits.GetOrAdd(relay.Name, _ => new RelayRateLimit(perSecond)).WaitAsync(priority, cancellationToken)
            : ValueTask.CompletedTask;

    /// <summary>Messages of this worker waiting for a token of the relay's rate limit right now.</summary>
    internal int WaitingForRateLimit(string relayName) => _limits.TryGetValue(relayName, out var limit) ? limit.Waiting : 0;

    /// <summary>The relays of the first routing rule the email matches; null when none does.</summary>
    internal IReadOnlyCollection<RelayOptions>? RouteFor(SendEmail email)
    {
        var settings = options.Value;
        if (settings.Routes.Count == 0)
        {
            return null;
        }

        var domain = SenderDomain(email.From);
        foreach (var route in settings.Routes)
        {
            if (route.SenderDomain is { Length: > 0 } wanted && !string.Equals(DomainNames.ToAscii(wanted), domain, StringComparison.Ordinal))
            {
                continue;
            }

            if (route.Tag is { Length: > 0 } tag && !email.Tags.Any(t => Matches(tag, t)))
            {
                continue;
            }

            var names = new HashSet<string>(route.Relays, StringComparer.OrdinalIgnoreCase);
            return settings.Relays.Where(r => names.Contains(r.Name)).ToList();
        }

        return null;
    }

    private static bool Matches(string rule, EmailTag tag)
    {
        var equals = rule.IndexOf('=');
        return equals < 0
            ? string.Equals(rule, tag.Name, StringComparison.Ordinal)
            : string.Equals(rule[..equals], tag.Name, StringComparison.Ordinal) && string.Equals(rule[(equals + 1)..], tag.Value, StringComparison.Ordinal);
    }

    /// <summary>The From address's domain as <see cref="DomainNames.ToAscii"/> writes it, to compare with a rule's in the same form.</summary>
    private static string? SenderDomain(string from) =>
        MailboxAddress.TryParse(from, out var mailbox) && mailbox.Address.LastIndexOf('@') is var at and > 0
            ? DomainNames.ToAscii(mailbox.Address[(at + 1)..])
            : null;

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
