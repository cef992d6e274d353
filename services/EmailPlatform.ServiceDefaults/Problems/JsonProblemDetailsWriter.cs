using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace EmailPlatform.ServiceDefaults.Problems;

/// <summary>
/// The last writer consulted: writes the problem as JSON whatever the request's <c>Accept</c> says, so no error
/// ever goes out as HTML or plain text (clients of this API parse every error body as JSON).
/// </summary>
internal sealed class JsonProblemDetailsWriter : IProblemDetailsWriter
{
    private static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web);

    public bool CanWrite(ProblemDetailsContext context) => true;

    public ValueTask WriteAsync(ProblemDetailsContext context) =>
        new(context.HttpContext.Response.WriteAsJsonAsync(context.ProblemDetails, Options, "application/problem+json"));
}
