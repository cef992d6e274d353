namespace EmailPlatform.Ingress.ApiKeys;

/// <summary>The body of <c>POST /v1/api-keys</c>.</summary>
public sealed record CreateApiKeyRequest
{
    /// <summary>What the key is for, 1 to 100 characters (required).</summary>
    public string? Name { get; init; }

    /// <summary>Any of <c>send</c>, <c>read</c>, <c>admin</c>; <c>["send", "read"]</c> when omitted.</summary>
    public IReadOnlyList<string>? Scopes { get; init; }

    /// <summary>When given, this key may only send <c>from</c> these domains and their subdomains.</summary>
    public IReadOnlyList<string>? AllowedSenderDomains { get; init; }

    /// <summary>This key's request rate per second; the configured default when omitted.</summary>
    public double? RateLimitPerSecond { get; init; }
}

/// <summary>An API key as listed: never the key itself.</summary>
public record ApiKeyResponse(
    string Object,
    Guid Id,
    string Name,
    string Prefix,
    IReadOnlyList<string> Scopes,
    IReadOnlyList<string> AllowedSenderDomains,
    double? RateLimitPerSecond,
    DateTime CreatedAt,
    DateTime? RevokedAt)
{
    public static ApiKeyResponse From(ApiKeyRecord key) => new(
        "api_key", key.Id, key.Name, key.Prefix, key.Scopes, key.AllowedSenderDomains, key.RateLimitPerSecond, key.CreatedAt, key.RevokedAt);
}

/// <summary>The answer to a create: the only time the key's <c>token</c> is shown.</summary>
public sealed record ApiKeyCreatedResponse(
    string Object,
    Guid Id,
    string Token,
    string Name,
    string Prefix,
    IReadOnlyList<string> Scopes,
    IReadOnlyList<string> AllowedSenderDomains,
    double? RateLimitPerSecond,
    DateTime CreatedAt);

public sealed record ApiKeyListResponse(string Object, bool HasMore, IReadOnlyList<ApiKeyResponse> Data);
