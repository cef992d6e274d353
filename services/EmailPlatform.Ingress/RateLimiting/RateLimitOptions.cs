using System.ComponentModel.DataAnnotations;

namespace EmailPlatform.Ingress.RateLimiting;

/// <summary>Configuration section <c>Ingress:RateLimit</c>.</summary>
public sealed class RateLimitOptions
{
    public const string SectionName = "Ingress:RateLimit";

    /// <summary>The lowest rate, configured or a key's own, and the highest.</summary>
    public const double MinPermitsPerSecond = 0.01;
    public const double MaxPermitsPerSecond = 1_000_000;

    /// <summary>Requests per second per API key (a key's own <c>rate_limit_per_second</c> overrides it).</summary>
    [Range(MinPermitsPerSecond, MaxPermitsPerSecond, ErrorMessage = "Ingress:RateLimit:PermitsPerSecond must be from 0.01 to 1,000,000.")]
    public double PermitsPerSecond { get; set; } = 100;

    /// <summary>How many seconds of unused rate a key may save up and spend at once.</summary>
    [Range(1, 3600, ErrorMessage = "Ingress:RateLimit:BurstSeconds must be between 1 and 3600.")]
    public double BurstSeconds { get; set; } = 2;

    /// <summary>
    /// Ingress replicas sharing the limit. Each replica enforces its share (limit ÷ replicas) on its own, which
    /// is exact when the load balancer spreads a key's requests evenly and needs no shared state on the hot path.
    /// </summary>
    [Range(1, 1000, ErrorMessage = "Ingress:RateLimit:Replicas must be between 1 and 1000.")]
    public int Replicas { get; set; } = 1;
}
