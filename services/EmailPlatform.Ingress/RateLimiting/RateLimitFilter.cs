using System.Collections.Concurrent;
using System.Globalization;
using EmailPlatform.ServiceDefaults.Authentication;
using EmailPlatform.ServiceDefaults.Problems;
using Microsoft.Extensions.Options;

namespace EmailPlatform.Ingress.RateLimiting;

/// <summary>
/// Per API key token buckets on the <c>/v1</c> endpoints. Every answer carries <c>RateLimit-Limit</c>,
/// <c>RateLimit-Remaining</c> and <c>RateLimit-Reset</c>; a request over the limit gets 429
/// <c>rate_limit_exceeded</c> with <c>Retry-After</c> and nothing is done.
/// </summary>
internal sealed class RateLimitFilter(IOptions<RateLimitOptions> options, TimeProvider clock) : IEndpointFilter
{
    private readonly ConcurrentDictionary<(string Key, double Rate), TokenBucket> _buckets = new();

    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        if (ApiKeyIdentity.From(http.User) is not { } caller)
        {
            return await next(context);
        }

        var settings = options.Value;
        var rate = (caller.RateLimitPerSecond ?? settings.PermitsPerSecond) / settings.Replicas;
        var now = clock.GetUtcNow().UtcTicks;
        var bucket = _buckets.GetOrAdd((caller.Id, rate), key => new TokenBucket(key.Rate, Math.Max(1, key.Rate * settings.BurstSeconds), now));
        var (taken, remaining, untilFull, untilNext) = bucket.TryTake(now);

        // Written as the answer starts, not now: an answer made by an exception handler (503 while the store is away,
        // 400 for text the store cannot keep) starts from a cleared response, and a client needs its budget then too.
        var limit = Seconds(bucket.Capacity);
        var left = remaining.ToString(CultureInfo.InvariantCulture);
        var reset = Seconds(untilFull.TotalSeconds);
        http.Response.OnStarting(() =>
        {
            var headers = http.Response.Headers;
            headers["RateLimit-Limit"] = limit;
            headers["RateLimit-Remaining"] = left;
            headers["RateLimit-Reset"] = reset;
            return Task.CompletedTask;
        });
        if (taken)
        {
            return await next(context);
        }

        http.Response.Headers.RetryAfter = Seconds(untilNext.TotalSeconds);
        return ApiProblems.Problem(StatusCodes.Status429TooManyRequests, ApiProblems.RateLimitExceeded, "Too many requests.",
            $"This API key may make {rate * settings.Replicas:0.##} requests per second; retry after {Seconds(untilNext.TotalSeconds)} s.");
    }

    private static string Seconds(double value) => Math.Ceiling(value).ToString(CultureInfo.InvariantCulture);
}

internal static class RateLimitFilterExtensions
{
    /// <summary>
    /// Adds the one <see cref="RateLimitFilter"/> instance (its buckets are the limiter's state).
    /// <c>AddEndpointFilter&lt;T&gt;()</c> would create a new filter, with empty buckets, for every request.
    /// </summary>
    public static RouteGroupBuilder AddRateLimit(this RouteGroupBuilder group, IEndpointRouteBuilder routes) =>
        group.AddEndpointFilter(routes.ServiceProvider.GetRequiredService<RateLimitFilter>());
}
