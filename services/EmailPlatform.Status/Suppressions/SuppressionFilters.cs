using System.IO.Hashing;
using EmailPlatform.ServiceDefaults.Suppressions;
using EmailPlatform.Status.Storage;
using Microsoft.EntityFrameworkCore;

namespace EmailPlatform.Status.Suppressions;

/// <summary>
/// Builds the <see cref="SuppressionFilter"/> the delivery workers download, from the suppressions in effect, and keeps
/// the last one for the workers that ask while it is young enough for them: however many workers ask, a replica reads
/// its list at most once a second (<see cref="MinimumAge"/>), and not at all while none asks.
/// </summary>
public sealed class SuppressionFilters(IServiceScopeFactory scopes, TimeProvider clock)
{
    /// <summary>The youngest filter a caller can demand: a bound on how often one replica reads the whole list.</summary>
    public static readonly TimeSpan MinimumAge = TimeSpan.FromSeconds(1);

    private readonly SemaphoreSlim _building = new(1, 1);
    private Built? _last;

    /// <summary>A filter built at most <paramref name="maxAge"/> ago (at least <see cref="MinimumAge"/>).</summary>
    public async Task<Built> GetAsync(TimeSpan maxAge, CancellationToken cancellationToken)
    {
        maxAge = maxAge < MinimumAge ? MinimumAge : maxAge;
        if (Fresh(Volatile.Read(ref _last), maxAge) is { } fresh)
        {
            return fresh;
        }

        await _building.WaitAsync(cancellationToken);
        try
        {
            // Built by the caller this one waited for, most likely.
            if (Fresh(_last, maxAge) is { } built)
            {
                return built;
            }

            built = await BuildAsync(cancellationToken);
            Volatile.Write(ref _last, built);
            return built;
        }
        finally
        {
            _building.Release();
        }
    }

    private Built? Fresh(Built? built, TimeSpan maxAge) => built is not null && clock.GetUtcNow() - built.BuiltAt <= maxAge ? built : null;

    /// <summary>
    /// Counts the suppressions in effect (to size the filter), then reads their addresses, without loading them all at
    /// once. The filter is as of <see cref="Built.BuiltAt"/>, taken before either query: every suppression committed by
    /// then is in it, so its age is never understated.
    /// </summary>
    private async Task<Built> BuildAsync(CancellationToken cancellationToken)
    {
        var builtAt = clock.GetUtcNow();
        var now = builtAt.UtcDateTime;
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<StatusDbContext>();
        var inEffect = db.Suppressions.AsNoTracking().Where(s => s.ExpiresAt == null || s.ExpiresAt > now);

        // Suppressions added between the two queries go in too, a little over the size: a few more needless lookups.
        var filter = SuppressionFilter.ForAddresses(await inEffect.LongCountAsync(cancellationToken));
        await foreach (var address in inEffect.Select(s => s.Address).AsAsyncEnumerable().WithCancellation(cancellationToken))
        {
            filter.Add(address);
        }

        var bytes = filter.ToBytes();
        return new Built(bytes, $"\"{XxHash3.HashToUInt64(bytes):x16}\"", builtAt);
    }

    /// <summary>A filter as served: its bytes, their entity tag, and when it was built.</summary>
    public sealed record Built(byte[] Bytes, string ETag, DateTimeOffset BuiltAt);
}
