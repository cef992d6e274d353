using EmailPlatform.Ingress.RateLimiting;
using EmailPlatform.Ingress.Storage;
using EmailPlatform.Ingress.Outbox;
using EmailPlatform.Ingress.Sending;
using EmailPlatform.ServiceDefaults.Authentication;
using EmailPlatform.ServiceDefaults.Paging;
using EmailPlatform.ServiceDefaults.Problems;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;

namespace EmailPlatform.Ingress.ApiKeys;

/// <summary><c>/v1/api-keys</c>: create (the token is shown once), list and revoke keys. Admin scope.</summary>
public static class ApiKeysEndpoints
{
    public static RouteGroupBuilder MapApiKeys(this IEndpointRouteBuilder routes)
    {
        var group = routes.MapGroup("/v1/api-keys")
            .WithTags("API keys")
            .RequireAuthorization(ApiKeyScopes.Admin)
            .AddRateLimit(routes)
            .ProducesProblem(StatusCodes.Status429TooManyRequests)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);

        group.MapPost("/", CreateAsync).WithName("CreateApiKey").WithSummary("Creates an API key; its token is in this answer only.")
            .WithJsonRequestBody<CreateApiKeyRequest>(OpenApiBodies.CreateApiKeyExample)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType);
        group.MapGet("/", ListAsync).WithName("ListApiKeys").WithSummary("API keys newest first, revoked ones included, never their tokens; in pages: limit (1–100, default 20), after or before the id of one.");
        group.MapDelete("/{id}", RevokeAsync).WithName("RevokeApiKey")
            .WithSummary("Revokes an API key; every replica refuses it within seconds.")
            .ProducesProblem(StatusCodes.Status404NotFound);
        return group;
    }

    internal static async Task<Results<Created<ApiKeyCreatedResponse>, ValidationProblem, ProblemHttpResult>> CreateAsync(
        HttpRequest httpRequest, IngressDbContext db, TimeProvider clock, CancellationToken cancellationToken)
    {
        var body = await JsonBody.ReadAsync<CreateApiKeyRequest>(httpRequest, cancellationToken);
        if (body.Problem is not null)
        {
            return body.Problem;
        }

        var request = body.Value!;
        var errors = Validate(request, out var domains);
        if (errors.Count > 0)
        {
            return ApiProblems.Validation(errors);
        }

        var token = ApiKeyTokens.Generate();
        var key = new ApiKeyRecord
        {
            Id = Guid.CreateVersion7(),
            Name = request.Name!.Trim(),
            Prefix = ApiKeyTokens.Display(token),
            Hash = ApiKeyTokens.Hash(token),
            Scopes = [.. (request.Scopes ?? [ApiKeyScopes.Send, ApiKeyScopes.Read]).Distinct(StringComparer.Ordinal)],
            AllowedSenderDomains = domains,
            RateLimitPerSecond = request.RateLimitPerSecond,
            CreatedAt = clock.GetUtcNow().UtcDateTime,
        };
        db.ApiKeys.Add(key);
        await db.SaveChangesAsync(cancellationToken);

        return TypedResults.Created($"/v1/api-keys/{key.Id}", new ApiKeyCreatedResponse(
            "api_key", key.Id, token, key.Name, key.Prefix, key.Scopes, key.AllowedSenderDomains, key.RateLimitPerSecond, key.CreatedAt));
    }

    /// <summary>Keys newest first, revoked ones included, in pages (<see cref="NewestFirst"/>).</summary>
    internal static async Task<Results<Ok<ApiKeyListResponse>, ValidationProblem>> ListAsync(
        IngressDbContext db, CancellationToken cancellationToken, string? limit = null, string? after = null, string? before = null)
    {
        var errors = new Dictionary<string, string[]>();
        if (await NewestFirst.ReadAsync(db.ApiKeys.AsNoTracking(), k => k, limit, after, before, "an API key", errors, cancellationToken) is not { } page)
        {
            return ApiProblems.Validation(errors);
        }

        return TypedResults.Ok(new ApiKeyListResponse("list", page.HasMore, page.Items.Select(ApiKeyResponse.From).ToList()));
    }

    internal static async Task<Results<Ok<ApiKeyResponse>, ProblemHttpResult>> RevokeAsync(
        string id, IngressDbContext db, TimeProvider clock, CancellationToken cancellationToken)
    {
        var key = Guid.TryParse(id, out var keyId) ? await db.ApiKeys.FindAsync([keyId], cancellationToken) : null;
        if (key is null)
        {
            return ApiProblems.Problem(StatusCodes.Status404NotFound, ApiProblems.NotFound, "API key not found.", $"No API key with id '{id}' exists.");
        }

        key.RevokedAt ??= clock.GetUtcNow().UtcDateTime;
        await db.SaveChangesAsync(cancellationToken);
        return TypedResults.Ok(ApiKeyResponse.From(key));
    }

    private static Dictionary<string, string[]> Validate(CreateApiKeyRequest request, out List<string> domains)
    {
        var errors = new Dictionary<string, string[]>();
        domains = [];
        if (string.IsNullOrWhiteSpace(request.Name) || request.Name.Length > 100 || SendEmailValidator.ContainsControl(request.Name))
        {
            errors["name"] = ["A name of 1 to 100 characters without control characters is required."];
        }

        if (request.Scopes is { } scopes && (scopes.Count == 0 || scopes.Any(s => !ApiKeyScopes.IsKnown(s))))
        {
            errors["scopes"] = [$"Scopes are one or more of: {string.Join(", ", ApiKeyScopes.All)}."];
        }

        foreach (var domain in request.AllowedSenderDomains ?? [])
        {
            if (DomainNames.TryToAscii(domain?.Trim().TrimEnd('.'), out var ascii) && ascii.Contains('.', StringComparison.Ordinal))
            {
                domains.Add(ascii);
            }
            else
            {
                errors["allowed_sender_domains"] = [$"'{domain}' is not a domain name such as example.com."];
            }
        }

        if (request.RateLimitPerSecond is < RateLimitOptions.MinPermitsPerSecond or > RateLimitOptions.MaxPermitsPerSecond)
        {
            errors["rate_limit_per_second"] =
                [$"The rate limit is a number of requests per second from {RateLimitOptions.MinPermitsPerSecond} to {RateLimitOptions.MaxPermitsPerSecond:#,0}."];
        }

        return errors;
    }
}
