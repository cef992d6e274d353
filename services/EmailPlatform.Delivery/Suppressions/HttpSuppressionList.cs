using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using EmailPlatform.Delivery.Relays;
using EmailPlatform.ServiceDefaults.Addresses;
using EmailPlatform.ServiceDefaults.Authentication;
using EmailPlatform.ServiceDefaults.Suppressions;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace EmailPlatform.Delivery.Suppressions;

/// <summary>
/// Asks the status service, <c>GET {Delivery:StatusUrl}/v1/suppressions/{address}</c> with the bootstrap key: 200 is
/// suppressed (its <c>reason</c>), 404 is not. Both answers are cached per address (<see cref="AddressKeys"/>) for
/// <c>Delivery:SuppressionCacheDuration</c> (default 1 minute): the documented staleness, i.e. an address suppressed
/// or released at the status service is seen by a worker at most that much later. A failed lookup (timeout after
/// 2 s, 5xx, unreachable, anything else) is logged, not cached, and answers "not suppressed": a status outage never
/// stops delivery. The client has no resilience handler: within the 2 s a retry would not fit, and its circuit breaker,
/// once open, threw past the lookup and failed the email's recipients.
/// </summary>
/// <remarks>
/// Most addresses a worker sends to are new to it and not suppressed, and asking about each one cost the status service a
/// request and a query per recipient (an eighth of the end-to-end rate, bench/HISTORY.md). So the worker also keeps the
/// status service's <see cref="SuppressionFilter"/> of the whole list (<c>GET /v1/suppressions/filter</c>) and asks
/// about an address only when the filter may hold it. The filter is refreshed every quarter of the cache duration, in
/// the background, and trusted only while it is younger than the cache duration (its age as the status service reports
/// it, counted from before the request), so the staleness stays what it was; while there is none young enough (the first
/// seconds, a status service that cannot serve one, one of an earlier version), every address is asked about as before.
/// With no cache duration there is no filter either.
/// </remarks>
internal sealed class HttpSuppressionList(
    IHttpClientFactory clients,
    IOptions<DeliveryOptions> options,
    IOptions<AuthOptions> auth,
    ILogger<HttpSuppressionList> logger,
    TimeProvider? clock = null) : ISuppressionList, IDisposable
{
    public const string HttpClientName = "status-suppressions";

    /// <summary>The client of filter downloads, which may be megabytes for a long list.</summary>
    public const string FilterClientName = "status-suppression-filter";

    /// <summary>The most addresses cached at once; beyond it, new answers are simply not cached.</summary>
    public const int CacheSize = 100_000;

    /// <summary>The shortest time between two filter downloads.</summary>
    private static readonly TimeSpan MinimumRefresh = TimeSpan.FromSeconds(1);

    private readonly MemoryCache _cache = new(new MemoryCacheOptions { SizeLimit = CacheSize });
    private readonly TimeProvider _clock = clock ?? TimeProvider.System;
    private readonly CancellationTokenSource _disposed = new();
    private LoadedFilter? _filter;
    private long _nextRefreshTicks;
    private int _refreshing;
    private bool _filterMissingLogged;

    public async ValueTask<string?> FindAsync(string address, CancellationToken ct)
    {
        var key = AddressKeys.Of(address);
        if (_cache.TryGetValue<Answer>(key, out var cached) && cached is not null)
        {
            return cached.Reason;
        }

        var settings = options.Value;
        if (settings.StatusUrl is not { } statusUrl)
        {
            return null;
        }

        var filter = TrustedFilter(settings, statusUrl);
        if (filter is not null && !filter.MightContain(key))
        {
            return null;
        }

        // The filter holds it: suppressed, most likely (or one of the few others it seems to hold). Should the status
        // service not answer, this recipient is deferred rather than sent.
        var mayBeSuppressed = filter is not null;

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
                return Unanswered(null, $"HTTP {(int)response.StatusCode}", mayBeSuppressed);
            }
        }
        catch (Exception ex) when (!ct.IsCancellationRequested && ex is not SuppressionUnknownException)
        {
            return Unanswered(ex, ex.GetType().Name, mayBeSuppressed);
        }

        if (settings.SuppressionCacheDuration > TimeSpan.Zero)
        {
            _cache.Set(key, new Answer(reason), new MemoryCacheEntryOptions { Size = 1, AbsoluteExpirationRelativeToNow = settings.SuppressionCacheDuration });
        }

        return reason;
    }

    /// <summary>A lookup the status service did not answer: not suppressed, unless the filter holds the address.</summary>
    private string? Unanswered(Exception? exception, string failure, bool mayBeSuppressed)
    {
        if (!mayBeSuppressed)
        {
            Log.LookupFailed(logger, exception, failure);
            return null;
        }

        Log.LookupFailedForFiltered(logger, exception, failure);
        throw new SuppressionUnknownException(
            $"The suppression list could not be checked ({failure} from the status service) and its filter holds the address: not sent, tried again later.",
            exception);
    }

    /// <summary>Downloads the filter now (the background refresh's work; tests call it to know when it is done).</summary>
    internal async Task RefreshFilterAsync(CancellationToken cancellationToken)
    {
        var settings = options.Value;
        if (settings.StatusUrl is not { } statusUrl || settings.SuppressionCacheDuration <= TimeSpan.Zero)
        {
            return;
        }

        var refresh = RefreshInterval(settings);
        var loaded = Volatile.Read(ref _filter);
        var asked = _clock.GetUtcNow();
        Interlocked.Exchange(ref _nextRefreshTicks, (asked + refresh).UtcTicks);
        var uri = new Uri($"{statusUrl.AbsoluteUri.TrimEnd('/')}/v1/suppressions/filter?max_age={(int)Math.Ceiling(refresh.TotalSeconds)}");
        using var request = new HttpRequestMessage(HttpMethod.Get, uri);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", auth.Value.BootstrapKey);
        if (loaded is not null)
        {
            request.Headers.IfNoneMatch.Add(EntityTagHeaderValue.Parse(loaded.ETag));
        }

        try
        {
            using var response = await clients.CreateClient(FilterClientName).SendAsync(request, cancellationToken);
            if (response.StatusCode == HttpStatusCode.NotFound)
            {
                // A status service of an earlier version (a rolling upgrade): every address is asked about, as then.
                if (!_filterMissingLogged)
                {
                    _filterMissingLogged = true;
                    Log.FilterMissing(logger);
                }

                return;
            }

            if (response.StatusCode != HttpStatusCode.NotModified && !response.IsSuccessStatusCode)
            {
                Log.FilterRefreshFailed(logger, null, $"HTTP {(int)response.StatusCode}");
                return;
            }

            var age = response.Headers.TryGetValues("Suppression-Filter-Age", out var values)
                && long.TryParse(values.FirstOrDefault(), NumberStyles.None, CultureInfo.InvariantCulture, out var milliseconds)
                ? TimeSpan.FromMilliseconds(milliseconds)
                : (TimeSpan?)null;
            if (age is null)
            {
                Log.FilterRefreshFailed(logger, null, "no Suppression-Filter-Age header");
                return;
            }

            // Counted from before the request: the filter is at least this old.
            var builtAt = asked - age.Value;
            if (response.StatusCode == HttpStatusCode.NotModified)
            {
                // The status service's filter is still the one this worker has (the entity tag it named): as young as that build.
                if (loaded is not null)
                {
                    Volatile.Write(ref _filter, loaded with { BuiltAt = builtAt });
                }

                return;
            }

            var filter = SuppressionFilter.Read(await response.Content.ReadAsByteArrayAsync(cancellationToken));
            if (filter is null || response.Headers.ETag is not { } etag)
            {
                Log.FilterRefreshFailed(logger, null, "not a suppression filter this worker reads");
                return;
            }

            Volatile.Write(ref _filter, new LoadedFilter(filter, etag.ToString(), builtAt));
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            Log.FilterRefreshFailed(logger, ex, ex.GetType().Name);
        }
    }

    public void Dispose()
    {
        _disposed.Cancel();
        _disposed.Dispose();
        _cache.Dispose();
    }

    private static TimeSpan RefreshInterval(DeliveryOptions settings) =>
        settings.SuppressionCacheDuration / 4 is var quarter && quarter > MinimumRefresh ? quarter : MinimumRefresh;

    /// <summary>The filter, when one younger than the cache duration is loaded; starts a refresh in the background when one is due.</summary>
    private SuppressionFilter? TrustedFilter(DeliveryOptions settings, Uri statusUrl)
    {
        if (settings.SuppressionCacheDuration <= TimeSpan.Zero)
        {
            return null;
        }

        // Read before a refresh starts: this lookup goes by the filter it found, not by one the refresh may bring meanwhile.
        var loaded = Volatile.Read(ref _filter);
        var now = _clock.GetUtcNow();
        if (now.UtcTicks >= Interlocked.Read(ref _nextRefreshTicks) && Interlocked.CompareExchange(ref _refreshing, 1, 0) == 0)
        {
            _ = RefreshInBackgroundAsync();
        }

        return loaded is not null && now - loaded.BuiltAt < settings.SuppressionCacheDuration ? loaded.Filter : null;
    }

    private async Task RefreshInBackgroundAsync()
    {
        try
        {
            // Off the lookup's own path: the send that noticed the filter was due does not wait for it.
            await Task.Yield();
            await RefreshFilterAsync(_disposed.Token);
        }
        catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException)
        {
            // The worker is stopping.
        }
        finally
        {
            Volatile.Write(ref _refreshing, 0);
        }
    }

    private sealed record Answer(string? Reason);

    private sealed record LoadedFilter(SuppressionFilter Filter, string ETag, DateTimeOffset BuiltAt);
}

internal static class HttpSuppressionListExtensions
{
    /// <summary>
    /// The named clients (lookups: <c>Delivery:SuppressionLookupTimeout</c>; filter downloads: 30 s) and
    /// <see cref="HttpSuppressionList"/>, unless a host
    /// registered its own list.
    /// </summary>
    public static IServiceCollection AddHttpSuppressionList(this IServiceCollection services)
    {
        // RemoveAllResilienceHandlers is marked experimental (EXTEXP0001); it undoes AddServiceDefaults' standard handler.
#pragma warning disable EXTEXP0001
        services.AddHttpClient(HttpSuppressionList.HttpClientName)
            .ConfigureHttpClient((provider, http) => http.Timeout = provider.GetRequiredService<IOptions<DeliveryOptions>>().Value.SuppressionLookupTimeout)
            .RemoveAllResilienceHandlers();
        services.AddHttpClient(HttpSuppressionList.FilterClientName)
            .ConfigureHttpClient(http => http.Timeout = TimeSpan.FromSeconds(30))
            .RemoveAllResilienceHandlers();
#pragma warning restore EXTEXP0001
        services.TryAddSingleton<ISuppressionList, HttpSuppressionList>();
        return services;
    }
}
