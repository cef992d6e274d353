using EmailPlatform.Delivery.Suppressions;
using EmailPlatform.Status.Storage;
using Microsoft.EntityFrameworkCore;

namespace EmailPlatform.Standalone;

/// <summary>
/// Delivery's suppression lookups against the status store in the same process: no HTTP, no cache, so no
/// staleness. (Distributed workers ask the status service over HTTP; see Delivery:StatusUrl.)
/// </summary>
internal sealed class StoreSuppressionList(IServiceScopeFactory scopes, TimeProvider clock) : ISuppressionList
{
    public async ValueTask<string?> FindAsync(string address, CancellationToken ct)
    {
        var key = address.Trim().ToLowerInvariant();
        var now = clock.GetUtcNow().UtcDateTime;
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<StatusDbContext>();
        return await db.Suppressions.AsNoTracking()
            .Where(s => s.Address == key && (s.ExpiresAt == null || s.ExpiresAt > now))
            .Select(s => s.Reason)
            .FirstOrDefaultAsync(ct);
    }
}
