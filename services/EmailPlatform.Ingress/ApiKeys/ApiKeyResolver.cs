using EmailPlatform.Ingress.Storage;
using EmailPlatform.Ingress.Outbox;
using EmailPlatform.ServiceDefaults.Authentication;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Caching.Memory;

namespace EmailPlatform.Ingress.ApiKeys;

/// <summary>
/// Resolves keys from the store by hash, caching each answer (hits and misses) for
/// <see cref="CacheDuration"/>: a revocation takes effect on every replica within that time, and a flood of
/// wrong keys costs one query per key per interval.
/// </summary>
internal sealed class ApiKeyResolver(IServiceScopeFactory scopes, TimeProvider clock) : IApiKeyResolver, IDisposable
{
    /// <summary>Bounded: a flood of made-up keys evicts entries instead of growing memory.</summary>
    private readonly MemoryCache _cache = new(new MemoryCacheOptions { SizeLimit = 10_000 });

    public static readonly TimeSpan CacheDuration = TimeSpan.FromSeconds(5);

    public async ValueTask<ApiKeyIdentity?> ResolveAsync(string presentedKey, CancellationToken cancellationToken)
    {
        if (!presentedKey.StartsWith(ApiKeyTokens.Prefix, StringComparison.Ordinal))
        {
            return null;
        }

        var hash = ApiKeyTokens.Hash(presentedKey);
        var cacheKey = "api-key:" + Convert.ToBase64String(hash);
        if (_cache.TryGetValue(cacheKey, out ApiKeyIdentity? cached))
        {
            return cached;
        }

        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<IngressDbContext>();
        var record = await db.ApiKeys.AsNoTracking().SingleOrDefaultAsync(k => k.Hash == hash, cancellationToken);
        var identity = record is null || record.RevokedAt is not null
            ? null
            : new ApiKeyIdentity(record.Id.ToString(), record.Name, record.Scopes, record.AllowedSenderDomains, record.RateLimitPerSecond);

        _cache.Set(cacheKey, identity, new MemoryCacheEntryOptions { Size = 1, AbsoluteExpiration = clock.GetUtcNow() + CacheDuration });
        return identity;
    }

    public void Dispose() => _cache.Dispose();
}
