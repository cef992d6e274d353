using System.Security.Claims;
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
/// <c>Authorization: Bearer &lt;api key&gt;</c>. A missing key answers 401 <c>missing_api_key</c>, a wrong
/// one 403 <c>invalid_api_key</c>, both as problem details. Keys are compared by hash in constant time.
/// </summary>
internal sealed class ApiKeyAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory logger,
    UrlEncoder encoder,
    IOptions<AuthOptions> auth,
    IProblemDetailsService problems)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "ApiKey";
    private const string BearerPrefix = "Bearer ";

    private readonly byte[] _bootstrapHash = Hash(auth.Value.BootstrapKey);

    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        string? header = Request.Headers.Authorization;
        if (string.IsNullOrEmpty(header))
        {
            return Task.FromResult(AuthenticateResult.NoResult());
        }

        if (!header.StartsWith(BearerPrefix, StringComparison.OrdinalIgnoreCase) && !header.Equals(BearerPrefix.Trim(), StringComparison.OrdinalIgnoreCase))
        {
            return Task.FromResult(AuthenticateResult.Fail("The Authorization header must use the Bearer scheme."));
        }

        var key = header.Length > BearerPrefix.Length ? header[BearerPrefix.Length..].Trim() : "";
        if (key.Length == 0)
        {
            return Task.FromResult(AuthenticateResult.NoResult());
        }

        if (!CryptographicOperations.FixedTimeEquals(Hash(key), _bootstrapHash))
        {
            return Task.FromResult(AuthenticateResult.Fail("The API key is not valid."));
        }

        var identity = new ClaimsIdentity([new Claim(ClaimTypes.Name, "bootstrap"), new Claim(ClaimTypes.Role, "admin")], SchemeName);
        return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), SchemeName)));
    }

    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        var result = await HandleAuthenticateOnceSafeAsync();
        var problem = result.Failure is null
            ? ApiProblems.Create(StatusCodes.Status401Unauthorized, ApiProblems.MissingApiKey,
                "Missing API key.", "Send the API key in the Authorization header: 'Authorization: Bearer <key>'.")
            : ApiProblems.Create(StatusCodes.Status403Forbidden, ApiProblems.InvalidApiKey,
                "Invalid API key.", result.Failure.Message);

        Response.StatusCode = problem.Status!.Value;
        Response.Headers.WWWAuthenticate = "Bearer";
        await problems.WriteAsync(new ProblemDetailsContext { HttpContext = Context, ProblemDetails = problem });
    }

    protected override Task HandleForbiddenAsync(AuthenticationProperties properties)
    {
        var problem = ApiProblems.Create(StatusCodes.Status403Forbidden, "restricted_api_key",
            "Restricted API key.", "This API key is not allowed to perform this action.");
        Response.StatusCode = StatusCodes.Status403Forbidden;
        return problems.WriteAsync(new ProblemDetailsContext { HttpContext = Context, ProblemDetails = problem }).AsTask();
    }

    private static byte[] Hash(string key) => SHA256.HashData(Encoding.UTF8.GetBytes(key));
}
