using System.Collections.Concurrent;
using EmailPlatform.Delivery.Suppressions;

namespace EmailPlatform.Delivery.Tests.Suppressions;

/// <summary>
/// A suppression list in memory: address (any case) to reason; an address in <see cref="Unknown"/> is one the list cannot
/// answer about while its filter holds it.
/// </summary>
internal sealed class FakeSuppressionList : ISuppressionList
{
    public ConcurrentDictionary<string, string> Suppressed { get; } = new(StringComparer.OrdinalIgnoreCase);

    public ConcurrentDictionary<string, string> Unknown { get; } = new(StringComparer.OrdinalIgnoreCase);

    public ValueTask<string?> FindAsync(string address, CancellationToken ct) =>
        Unknown.TryGetValue(address, out var failure) ? throw new SuppressionUnknownException(failure)
        : ValueTask.FromResult(Suppressed.TryGetValue(address, out var reason) ? reason : null);
}
