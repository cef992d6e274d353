using Microsoft.EntityFrameworkCore.ChangeTracking;

namespace EmailPlatform.Status.Storage;

/// <summary>
/// How EF Core compares and snapshots the columns stored as JSON (an email's tags and metadata, a subscription's
/// events) by their elements. Serializing both sides, as a JSON comparer does, costs four serializations per column
/// and tracked row whenever changes are detected, and a serialize-deserialize round trip for every snapshot: the
/// recorder tracks a batch's emails and detects changes once per batch, where that was a large share of its CPU.
/// The elements are immutable (strings, <see cref="Contracts.EmailTag"/> records), so a shallow copy is a snapshot.
/// </summary>
internal static class JsonColumnComparers
{
    public sealed class ListComparer<T>() : ValueComparer<List<T>>(
        (a, b) => ListsEqual(a, b),
        value => ListHash(value),
        value => new List<T>(value));

    public sealed class DictionaryComparer() : ValueComparer<Dictionary<string, string>>(
        (a, b) => DictionariesEqual(a, b),
        value => DictionaryHash(value),
        value => new Dictionary<string, string>(value, value.Comparer));

    private static bool ListsEqual<T>(List<T>? a, List<T>? b) =>
        ReferenceEquals(a, b) || (a is not null && b is not null && a.SequenceEqual(b));

    private static int ListHash<T>(List<T> value)
    {
        var hash = new HashCode();
        foreach (var item in value)
        {
            hash.Add(item);
        }

        return hash.ToHashCode();
    }

    private static bool DictionariesEqual(Dictionary<string, string>? a, Dictionary<string, string>? b)
    {
        if (ReferenceEquals(a, b))
        {
            return true;
        }

        if (a is null || b is null || a.Count != b.Count)
        {
            return false;
        }

        foreach (var (key, value) in a)
        {
            if (!b.TryGetValue(key, out var other) || !string.Equals(value, other, StringComparison.Ordinal))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Independent of the order the entries were added in, as the equality is.</summary>
    private static int DictionaryHash(Dictionary<string, string> value)
    {
        var hash = 0;
        foreach (var (key, item) in value)
        {
            hash ^= HashCode.Combine(key, item);
        }

        return hash;
    }
}
