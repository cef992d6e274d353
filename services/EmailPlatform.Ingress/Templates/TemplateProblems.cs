using EmailPlatform.ServiceDefaults.Problems;
using Microsoft.AspNetCore.Http.HttpResults;

namespace EmailPlatform.Ingress.Templates;

internal static class TemplateProblems
{
    public const string InvalidTemplateVariables = "invalid_template_variables";

    public static ProblemHttpResult NotFound(string reference, bool published) => ApiProblems.Problem(
        StatusCodes.Status404NotFound, ApiProblems.NotFound, "Template not found.",
        published
            ? $"No template '{reference}' exists, or it has no published version; publish it or pin a version ('{reference}@1')."
            : $"No template '{reference}' exists.");

    /// <summary>A 422 that lists each variable (or part) that stopped the render, as a validation problem does.</summary>
    public static ProblemHttpResult Unrenderable(IDictionary<string, string[]> errors)
    {
        var problem = new HttpValidationProblemDetails(errors)
        {
            Status = StatusCodes.Status422UnprocessableEntity,
            Type = ApiProblems.TypeBase + InvalidTemplateVariables,
            Title = "The template cannot be rendered with these variables.",
            Detail = string.Join(" ", errors.SelectMany(e => e.Value)),
        };
        ApiProblems.Enrich(problem, InvalidTemplateVariables);
        return TypedResults.Problem(problem);
    }
}
