namespace EmailPlatform.Ingress.ApiKeys;

/// <summary>The body of <c>POST /v1/api-keys</c>.</summary>
/// <param name="Scopes">Any of <c>send</c>, <c>read</c>, <c>admin</c>; <c>["send", "read"]</c> when omitted.</param>
/// <param name="AllowedSenderDomains">When given, this key may only send <c>from</c> these domains.</param>
/// <param name="RateLimitPerSecond">This key's sending rate; the configured default when omitted.</param>
public sealed record CreateApiKeyRequest(
    string? Name,
    IReadOnlyList<string>? Scopes,
    IReadOnlyList<string>? AllowedSenderDomains,
    double? RateLimitPerSecond);

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
