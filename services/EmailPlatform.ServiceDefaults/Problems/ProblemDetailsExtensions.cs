using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace EmailPlatform.ServiceDefaults.Problems;

internal static class ProblemDetailsExtensions
{
    public static IServiceCollection AddApiProblemDetails(this IServiceCollection services)
    {
        services.AddProblemDetails(o => o.CustomizeProblemDetails = context =>
        {
            // Never leak exception text or stack traces: the framework adds them only in Development.
            context.ProblemDetails.Extensions.Remove("exception");
            var request = context.HttpContext.Request;
            context.ProblemDetails.Detail ??= DefaultDetail(context.ProblemDetails.Status, request);
            context.ProblemDetails.Instance ??= request.Path;
            ApiProblems.Enrich(context.ProblemDetails);
        });

        services.AddExceptionHandler<StoreUnavailableHandler>();
        services.AddExceptionHandler<UnstorableTextHandler>();

        // Registered after the framework's writer, so it is only the fallback for clients that do not accept JSON.
        services.AddSingleton<IProblemDetailsWriter, JsonProblemDetailsWriter>();
        return services;
    }

    /// <summary>A sentence for the problems the framework makes without one (routing's 404, 405 and 415, a 500).</summary>
    private static string? DefaultDetail(int? status, HttpRequest request) => status switch
    {
        StatusCodes.Status404NotFound => $"Nothing exists at {request.Path}.",
        StatusCodes.Status405MethodNotAllowed => $"{request.Method} is not allowed on {request.Path}.",
        StatusCodes.Status415UnsupportedMediaType => "Send the request body as JSON with 'Content-Type: application/json'.",
        StatusCodes.Status413PayloadTooLarge => "The request body is larger than this server accepts.",
        >= 500 => "The server could not complete the request. It has been logged; retrying later may succeed.",
        _ => null,
    };
}
