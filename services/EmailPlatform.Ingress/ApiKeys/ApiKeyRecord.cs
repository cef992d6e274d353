using EmailPlatform.ServiceDefaults.Paging;

namespace EmailPlatform.Ingress.ApiKeys;

/// <summary>An API key as stored: never the key itself, only its SHA-256 hash and a displayable prefix.</summary>
public sealed class ApiKeyRecord : IListedRecord
{
    public Guid Id { get; set; }

    public required string Name { get; set; }

    /// <summary>The first characters of the key (<c>ep_live_AbCd</c>), to recognise it in a list.</summary>
    public required string Prefix { get; set; }

    public required byte[] Hash { get; set; }

    public List<string> Scopes { get; set; } = [];

    public List<string> AllowedSenderDomains { get; set; } = [];

    public double? RateLimitPerSecond { get; set; }

    public DateTime CreatedAt { get; set; }

    public DateTime? RevokedAt { get; set; }
}
