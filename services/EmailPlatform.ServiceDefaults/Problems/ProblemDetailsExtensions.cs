using Microsoft.Extensions.DependencyInjection;

namespace EmailPlatform.ServiceDefaults.Problems;

internal static class ProblemDetailsExtensions
{
    public static IServiceCollection AddApiProblemDetails(this IServiceCollection services) =>
        services.AddProblemDetails(o => o.CustomizeProblemDetails = context =>
        {
            // Never leak exception text or stack traces: the framework adds them only in Development.
            context.ProblemDetails.Extensions.Remove("exception");
            ApiProblems.Enrich(context.ProblemDetails);
            context.ProblemDetails.Instance ??= context.HttpContext.Request.Path;
        });
}
