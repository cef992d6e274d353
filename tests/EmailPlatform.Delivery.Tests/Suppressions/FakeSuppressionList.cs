using System.Collections.Concurrent;
using EmailPlatform.Delivery.Suppressions;

namespace EmailPlatform.Delivery.Tests.Suppressions;

/// <summary>A suppression list in memory: address (any case) to reason.</summary>
internal sealed class FakeSuppressionList : ISuppressionList
{
    public ConcurrentDictionary<string, string> Suppressed { get; } = new(StringComparer.OrdinalIgnoreCase);

    public ValueTask<string?> FindAsync(string address, CancellationToken ct) =>
        ValueTask.FromResult(Suppressed.TryGetValue(address, out var reason) ? reason : null);
}
