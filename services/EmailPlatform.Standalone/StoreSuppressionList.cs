using EmailPlatform.Delivery.Suppressions;
using EmailPlatform.ServiceDefaults.Addresses;
using EmailPlatform.Status.Storage;
using Microsoft.EntityFrameworkCore;

namespace EmailPlatform.Standalone;

/// <summary>
/// Delivery's suppression lookups against the status store in the same process: no HTTP, no cache, so no
/// staleness. (Distributed workers ask the status service over HTTP; see Delivery:StatusUrl.) The address is keyed as the
/// status service keys it (<see cref="AddressKeys.Of"/>: a punycode domain in Unicode), so both modes find the same
/// entries. A lookup the store cannot answer is logged and answers "not suppressed", as the contract
/// (<see cref="ISuppressionList.FindAsync"/>) and the distributed worker do when the status service is out of reach:
/// thrown, it would fail the email's whole consume, and after its retries every recipient of the email.
/// </summary>
internal sealed class StoreSuppressionList(IServiceScopeFactory scopes, TimeProvider clock, ILogger<StoreSuppressionList> logger) : ISuppressionList
{
    public async ValueTask<string?> FindAsync(string address, CancellationToken ct)
    {
        var key = AddressKeys.Of(address);
        var now = clock.GetUtcNow().UtcDateTime;
        try
        {
            await using var scope = scopes.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<StatusDbContext>();
            return await db.Suppressions.AsNoTracking()
                .Where(s => s.Address == key && (s.ExpiresAt == null || s.ExpiresAt > now))
                .Select(s => s.Reason)
                .FirstOrDefaultAsync(ct);
        }
        catch (Exception ex) when (!ct.IsCancellationRequested)
        {
            Log.SuppressionLookupFailed(logger, ex, ex.GetType().Name);
            return null;
        }
    }
}

internal static partial class Log
{
    [LoggerMessage(EventId = 8004, Level = LogLevel.Warning,
        Message = "Suppression lookup in the status store failed ({Failure}): the recipient is sent as not suppressed")]
    public static partial void SuppressionLookupFailed(ILogger logger, Exception exception, string failure);
}
