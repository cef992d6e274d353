using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using EmailPlatform.ServiceDefaults.Problems;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace EmailPlatform.ServiceDefaults.Authentication;

/// <summary>
/// <c>Authorization: Bearer &lt;api key&gt;</c>. The bootstrap key (compared by hash in constant time) is an
/// admin; any other key goes to the service's <see cref="IApiKeyResolver"/>, if it has one. A missing key
/// answers 401 <c>missing_api_key</c>, an unknown or revoked one 401 <c>invalid_api_key</c>, a key without
/// the scope an endpoint needs 403 <c>restricted_api_key</c>; all as problem details.
/// </summary>
internal sealed class ApiKeyAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory logger,
    UrlEncoder encoder,
    IOptions<AuthOptions> auth,
    IProblemDetailsService problems,
    IApiKeyResolver? resolver = null)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "ApiKey";
    private const string BearerPrefix = "Bearer ";

    private readonly byte[] _bootstrapHash = Hash(auth.Value.BootstrapKey);

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        string? header = Request.Headers.Authorization;
        if (string.IsNullOrEmpty(header))
        {
            return AuthenticateResult.NoResult();
        }

        if (!header.StartsWith(BearerPrefix, StringComparison.OrdinalIgnoreCase) && !header.Equals(BearerPrefix.Trim(), StringComparison.OrdinalIgnoreCase))
        {
            return AuthenticateResult.Fail("The Authorization header must use the Bearer scheme: 'Authorization: Bearer <key>'.");
        }

        var key = header.Length > BearerPrefix.Length ? header[BearerPrefix.Length..].Trim() : "";
        if (key.Length == 0)
        {
            return AuthenticateResult.NoResult();
        }

        var identity = CryptographicOperations.FixedTimeEquals(Hash(key), _bootstrapHash)
            ? ApiKeyIdentity.Bootstrap
            : resolver is null ? null : await resolver.ResolveAsync(key, Context.RequestAborted);

        return identity is null
            ? AuthenticateResult.Fail("The API key is not valid: it is unknown or has been revoked.")
            : AuthenticateResult.Success(new AuthenticationTicket(identity.ToPrincipal(SchemeName), SchemeName));
    }

    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        var result = await HandleAuthenticateOnceSafeAsync();
        var problem = result.Failure is null
            ? ApiProblems.Create(StatusCodes.Status401Unauthorized, ApiProblems.MissingApiKey,
                "Missing API key.", "Send the API key in the Authorization header: 'Authorization: Bearer <key>'.")
            : ApiProblems.Create(StatusCodes.Status401Unauthorized, ApiProblems.InvalidApiKey,
                "Invalid API key.", result.Failure.Message);

        Response.StatusCode = problem.Status!.Value;
        Response.Headers.WWWAuthenticate = "Bearer";
        await problems.WriteAsync(new ProblemDetailsContext { HttpContext = Context, ProblemDetails = problem });
    }

    protected override Task HandleForbiddenAsync(AuthenticationProperties properties)
    {
        var problem = ApiProblems.Create(StatusCodes.Status403Forbidden, ApiProblems.RestrictedApiKey,
            "Restricted API key.", "This API key does not have the scope this endpoint needs.");
        Response.StatusCode = StatusCodes.Status403Forbidden;
        return problems.WriteAsync(new ProblemDetailsContext { HttpContext = Context, ProblemDetails = problem }).AsTask();
    }

    private static byte[] Hash(string key) => SHA256.HashData(Encoding.UTF8.GetBytes(key));
}
