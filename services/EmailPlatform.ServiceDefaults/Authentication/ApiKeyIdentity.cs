using System.Security.Claims;

namespace EmailPlatform.ServiceDefaults.Authentication;

/// <summary>Who is calling: an API key as the authentication handler resolved it.</summary>
/// <param name="Id">Stable id of the key (never the key itself); <c>bootstrap</c> for the configured admin key.</param>
/// <param name="AllowedSenderDomains">When not empty, <c>from</c> must be in one of these domains.</param>
/// <param name="RateLimitPerSecond">This key's own sending rate, or null for the default.</param>
public sealed record ApiKeyIdentity(
    string Id,
    string Name,
    IReadOnlyList<string> Scopes,
    IReadOnlyList<string> AllowedSenderDomains,
    double? RateLimitPerSecond = null)
{
    public const string BootstrapId = "bootstrap";

    /// <summary>
    /// The header with which the ingress, forwarding a request to the status service under the bootstrap key, names the
    /// API key it authenticated (<see cref="Id"/>): the status service records that key, not <c>bootstrap</c>, as the
    /// actor of what the request changes. Taken only from a request made with the bootstrap key, whose holder may act
    /// as anyone.
    /// </summary>
    public const string ActingKeyHeader = "EmailPlatform-Acting-Key";

    private const string ScopeClaim = "scope";
    private const string SenderDomainClaim = "sender_domain";
    private const string RateLimitClaim = "rate_limit";

    public static ApiKeyIdentity Bootstrap { get; } = new(BootstrapId, "bootstrap", ApiKeyScopes.All, []);

    public ClaimsPrincipal ToPrincipal(string scheme)
    {
        var claims = new List<Claim> { new(ClaimTypes.NameIdentifier, Id), new(ClaimTypes.Name, Name) };
        claims.AddRange(Scopes.Select(s => new Claim(ScopeClaim, s)));
        claims.AddRange(AllowedSenderDomains.Select(d => new Claim(SenderDomainClaim, d)));
        if (RateLimitPerSecond is { } rate)
        {
            claims.Add(new Claim(RateLimitClaim, rate.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        }

        return new ClaimsPrincipal(new ClaimsIdentity(claims, scheme));
    }

    /// <summary>Reads the identity back from an authenticated principal; null when the caller is anonymous.</summary>
    public static ApiKeyIdentity? From(ClaimsPrincipal user)
    {
        if (user.FindFirstValue(ClaimTypes.NameIdentifier) is not { } id)
        {
            return null;
        }

        var rate = user.FindFirstValue(RateLimitClaim);
        return new ApiKeyIdentity(
            id,
            user.FindFirstValue(ClaimTypes.Name) ?? id,
            user.FindAll(ScopeClaim).Select(c => c.Value).ToList(),
            user.FindAll(SenderDomainClaim).Select(c => c.Value).ToList(),
            rate is null ? null : double.Parse(rate, System.Globalization.CultureInfo.InvariantCulture));
    }

    /// <summary>The bootstrap key acting for the key <paramref name="id"/> (<see cref="ActingKeyHeader"/>), with the bootstrap key's scopes.</summary>
    public static ApiKeyIdentity ActingFor(string id) => Bootstrap with { Id = id, Name = $"bootstrap acting for {id}" };

    /// <summary>Whether <paramref name="value"/> can be a key id: a GUID, or <c>bootstrap</c>.</summary>
    public static bool IsKeyId(string? value) => value == BootstrapId || Guid.TryParse(value, out _);

    public bool Has(string scope) => Scopes.Contains(ApiKeyScopes.Admin) || Scopes.Contains(scope);
}
