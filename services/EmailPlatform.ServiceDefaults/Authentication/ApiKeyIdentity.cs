using System.Security.Claims;
using Microsoft.AspNetCore.Http;

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
    /// actor of what the request changes (<see cref="ActorOf"/>). Taken only from a request made with the bootstrap key,
    /// whose holder may act as anyone, and only for that record.
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

    /// <summary>
    /// Who to record as the actor of what a request changes (an audit record): the caller's key, or, for a request made
    /// with the bootstrap key that names a key in <see cref="ActingKeyHeader"/> (one the ingress forwarded), that key, as
    /// a key id is written (<c>bootstrap</c>, or a GUID in its hyphenated lower-case form). Authentication itself never
    /// reads the header: the caller's identity, scopes and rate limits stay the bootstrap key's.
    /// </summary>
    public static string? ActorOf(HttpContext http)
    {
        var caller = From(http.User)?.Id;
        if (caller != BootstrapId || http.Request.Headers[ActingKeyHeader] is not [{ } acting])
        {
            return caller;
        }

        return acting == BootstrapId ? acting : Guid.TryParseExact(acting, "D", out var id) ? id.ToString() : caller;
    }

    public bool Has(string scope) => Scopes.Contains(ApiKeyScopes.Admin) || Scopes.Contains(scope);
}
