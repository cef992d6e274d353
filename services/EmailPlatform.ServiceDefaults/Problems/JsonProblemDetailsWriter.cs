using System.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Options;

namespace EmailPlatform.ServiceDefaults.Problems;

/// <summary>
/// The last writer consulted: writes the problem as JSON whatever the request's <c>Accept</c> says, so no error
/// ever goes out as HTML or plain text (clients of this API parse every error body as JSON). It completes the problem
/// as the framework's writer would for a JSON client (status, title, trace id, then <see cref="ProblemDetailsOptions.CustomizeProblemDetails"/>),
/// so a bare 404 or 405 from routing is as complete for <c>Accept: text/html</c> as for <c>application/json</c>.
/// </summary>
internal sealed class JsonProblemDetailsWriter(IOptions<ProblemDetailsOptions> options) : IProblemDetailsWriter
{
    public bool CanWrite(ProblemDetailsContext context) => true;

    public ValueTask WriteAsync(ProblemDetailsContext context)
    {
        var problem = context.ProblemDetails;
        problem.Status ??= context.HttpContext.Response.StatusCode;
        problem.Title ??= problem.Status == StatusCodes.Status500InternalServerError
            ? "An error occurred while processing your request."
            : NullIfEmpty(ReasonPhrases.GetReasonPhrase(problem.Status.Value));
        // The framework's writer adds the trace id; on our wire it is spelled trace_id.
        problem.Extensions.TryAdd("trace_id", Activity.Current?.Id ?? context.HttpContext.TraceIdentifier);
        options.Value.CustomizeProblemDetails?.Invoke(context);

        // No serializer options: the host's HTTP JSON options, as the framework's writer uses.
        return new(context.HttpContext.Response.WriteAsJsonAsync(problem, options: null, "application/problem+json"));
    }

    private static string? NullIfEmpty(string value) => value.Length == 0 ? null : value;
}
