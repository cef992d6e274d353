using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace EmailPlatform.ServiceDefaults.Problems;

/// <summary>
/// Every error the API sends is an RFC 9457 problem detail with a stable <c>type</c>, and carries the
/// members that Resend-compatible clients read: <c>name</c>, <c>message</c> and <c>statusCode</c>. Each carries
/// <c>errors</c> too: the fields at fault and what is wrong with each, empty when the error is not about a field.
/// </summary>
public static class ApiProblems
{
    public const string TypeBase = "https://emailplatform.dev/problems/";

    public const string ValidationError = "validation_error";
    public const string MissingRequiredField = "missing_required_field";
    public const string InvalidFromAddress = "invalid_from_address";
    public const string MissingApiKey = "missing_api_key";
    public const string InvalidApiKey = "invalid_api_key";
    public const string RestrictedApiKey = "restricted_api_key";
    public const string NotFound = "not_found";
    public const string MethodNotAllowed = "method_not_allowed";
    public const string PayloadTooLarge = "payload_too_large";
    public const string UnsupportedMediaType = "unsupported_media_type";
    public const string RateLimitExceeded = "rate_limit_exceeded";
    public const string ApplicationError = "application_error";
    public const string InternalServerError = "internal_server_error";
    public const string ServiceUnavailable = "service_unavailable";

    /// <summary>The <c>errors</c> of a problem that is not about a field.</summary>
    private static readonly IReadOnlyDictionary<string, string[]> NoFieldErrors = new Dictionary<string, string[]>();

    public static ProblemHttpResult Problem(int status, string name, string title, string detail) =>
        TypedResults.Problem(Create(status, name, title, detail));

    /// <summary>A problem about named fields (<paramref name="errors"/>), with a status and name of its own.</summary>
    public static ProblemHttpResult FieldProblem(int status, string name, string title, string detail, IDictionary<string, string[]> errors)
    {
        var problem = new HttpValidationProblemDetails(errors) { Status = status, Type = TypeBase + name, Title = title, Detail = detail };
        Enrich(problem, name);
        return TypedResults.Problem(problem);
    }

    public static ValidationProblem Validation(
        IDictionary<string, string[]> errors, string name = ValidationError, string? detail = null)
    {
        detail ??= string.Join(" ", errors.SelectMany(e => e.Value));
        var problem = TypedResults.ValidationProblem(errors, detail, type: TypeBase + name, title: "The request is invalid.");
        Enrich(problem.ProblemDetails, name);
        return problem;
    }

    public static ProblemDetails Create(int status, string name, string title, string detail)
    {
        var problem = new ProblemDetails { Status = status, Type = TypeBase + name, Title = title, Detail = detail };
        Enrich(problem, name);
        return problem;
    }

    /// <summary>Fills the stable type and the client-facing members on a problem, framework-made ones included.</summary>
    public static void Enrich(ProblemDetails problem, string? name = null)
    {
        var status = problem.Status ?? StatusCodes.Status500InternalServerError;
        name ??= problem.Extensions.TryGetValue("name", out var existing) && existing is string s ? s : NameFor(status);
        if (problem.Type is null || !problem.Type.StartsWith(TypeBase, StringComparison.Ordinal))
        {
            problem.Type = TypeBase + name;
        }

        problem.Extensions["name"] = name;
        problem.Extensions["message"] = problem.Detail ?? problem.Title ?? name;
        problem.Extensions["statusCode"] = status;
        if (problem is not HttpValidationProblemDetails)
        {
            problem.Extensions.TryAdd("errors", NoFieldErrors);
        }
    }

    private static string NameFor(int status) => status switch
    {
        StatusCodes.Status400BadRequest => ValidationError,
        StatusCodes.Status401Unauthorized => MissingApiKey,
        StatusCodes.Status403Forbidden => RestrictedApiKey,
        StatusCodes.Status404NotFound => NotFound,
        StatusCodes.Status405MethodNotAllowed => MethodNotAllowed,
        StatusCodes.Status413PayloadTooLarge => PayloadTooLarge,
        StatusCodes.Status415UnsupportedMediaType => UnsupportedMediaType,
        StatusCodes.Status422UnprocessableEntity => ValidationError,
        StatusCodes.Status429TooManyRequests => RateLimitExceeded,
        StatusCodes.Status503ServiceUnavailable => ServiceUnavailable,
        >= 500 => InternalServerError,
        _ => ApplicationError,
    };
}
