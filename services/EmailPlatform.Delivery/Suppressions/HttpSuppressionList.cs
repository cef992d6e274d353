using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using EmailPlatform.Delivery.Relays;
using EmailPlatform.ServiceDefaults.Authentication;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace EmailPlatform.Delivery.Suppressions;

/// <summary>
/// Asks the status service, <c>GET {Delivery:StatusUrl}/v1/suppressions/{address}</c> with the bootstrap key: 200 is
/// suppressed (its <c>reason</c>), 404 is not. Both answers are cached per lower-cased address for
/// <c>Delivery:SuppressionCacheDuration</c> (default 1 minute): the documented staleness, i.e. an address suppressed
/// or released at the status service is seen by a worker at most that much later. A failed lookup (timeout after
/// 2 s, 5xx, unreachable, anything else) is logged, not cached, and answers "not suppressed": a status outage never
/// stops delivery. The client has no resilience handler: within the 2 s a retry would not fit, and its circuit breaker,
/// once open, threw past the lookup and failed the email's recipients.
/// </summary>
internal sealed class HttpSuppressionList(
    IHttpClientFactory clients,
    IOptions<DeliveryOptions> options,
    IOptions<AuthOptions> auth,
    ILogger<HttpSuppressionList> logger) : ISuppressionList, IDisposable
{
    public const string HttpClientName = "status-suppressions";

    /// <summary>The most addresses cached at once; beyond it, new answers are simply not cached.</summary>
    public const int CacheSize = 100_000;

    private readonly MemoryCache _cache = new(new MemoryCacheOptions { SizeLimit = CacheSize });

    public async ValueTask<string?> FindAsync(string address, CancellationToken ct)
    {
        var key = address.Trim().ToLowerInvariant();
        if (_cache.TryGetValue<Answer>(key, out var cached) && cached is not null)
        {
            return cached.Reason;
        }

        var settings = options.Value;
        if (settings.StatusUrl is not { } statusUrl)
        {
            return null;
        }

        // Every character that means something in a path is escaped: a "/" in the local part goes as %2F, which the status
        // service turns back into "/" (its AddressRoute), and a "%" as %25.
        var uri = new Uri($"{statusUrl.AbsoluteUri.TrimEnd('/')}/v1/suppressions/{Uri.EscapeDataString(key)}");
        string? reason;
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, uri);
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", auth.Value.BootstrapKey);
            using var response = await clients.CreateClient(HttpClientName).SendAsync(request, ct);
            if (response.StatusCode == HttpStatusCode.NotFound)
            {
                reason = null;
            }
            else if (response.IsSuccessStatusCode)
            {
                await using var body = await response.Content.ReadAsStreamAsync(ct);
                using var json = await JsonDocument.ParseAsync(body, cancellationToken: ct);
                reason = json.RootElement.TryGetProperty("reason", out var value) && value.ValueKind == JsonValueKind.String
                    && !string.IsNullOrWhiteSpace(value.GetString())
                    ? value.GetString()!
                    : "Suppressed.";
            }
            else
            {
                Log.LookupFailed(logger, null, $"HTTP {(int)response.StatusCode}");
                return null;
            }
        }
        catch (Exception ex) when (!ct.IsCancellationRequested)
        {
            Log.LookupFailed(logger, ex, ex.GetType().Name);
            return null;
        }

        if (settings.SuppressionCacheDuration > TimeSpan.Zero)
        {
            _cache.Set(key, new Answer(reason), new MemoryCacheEntryOptions { Size = 1, AbsoluteExpirationRelativeToNow = settings.SuppressionCacheDuration });
        }

        return reason;
    }

    public void Dispose() => _cache.Dispose();

    private sealed record Answer(string? Reason);
}

internal static class HttpSuppressionListExtensions
{
    /// <summary>
    /// The named client (<c>Delivery:SuppressionLookupTimeout</c>) and <see cref="HttpSuppressionList"/>, unless a host
    /// registered its own list.
    /// </summary>
    public static IServiceCollection AddHttpSuppressionList(this IServiceCollection services)
    {
        // RemoveAllResilienceHandlers is marked experimental (EXTEXP0001); it undoes AddServiceDefaults' standard handler.
#pragma warning disable EXTEXP0001
        services.AddHttpClient(HttpSuppressionList.HttpClientName)
            .ConfigureHttpClient((provider, http) => http.Timeout = provider.GetRequiredService<IOptions<DeliveryOptions>>().Value.SuppressionLookupTimeout)
            .RemoveAllResilienceHandlers();
#pragma warning restore EXTEXP0001
        services.TryAddSingleton<ISuppressionList, HttpSuppressionList>();
        return services;
    }
}
