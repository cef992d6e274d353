using System.Text;
using System.Text.Json;
using EmailPlatform.ServiceDefaults.Json;
using EmailPlatform.ServiceDefaults.Problems;
using Microsoft.AspNetCore.Http.HttpResults;

namespace EmailPlatform.Ingress.Sending;

/// <summary>
/// Reads a JSON body with the public API's conventions and turns every way it can be wrong (content type,
/// syntax, types, encoding) into a clear problem instead of the framework's bare 400.
/// </summary>
internal static class JsonBody
{
    public static async Task<(T? Value, ProblemHttpResult? Problem)> ReadAsync<T>(HttpRequest request, CancellationToken cancellationToken)
        where T : class
    {
        if (!request.HasJsonContentType())
        {
            return (null, ApiProblems.Problem(StatusCodes.Status415UnsupportedMediaType, ApiProblems.UnsupportedMediaType,
                "Unsupported media type.", "Send the request body as JSON with 'Content-Type: application/json'."));
        }

        try
        {
            var value = await request.ReadFromJsonAsync<T>(WireJson.Options, cancellationToken);
            return value is null
                ? (null, Invalid("The request body must be a JSON object."))
                : (value, null);
        }
        catch (JsonException ex)
        {
            var where = string.IsNullOrEmpty(ex.Path) || ex.Path == "$" ? "" : $" at '{ex.Path.TrimStart('$', '.')}'";
            return (null, Invalid($"The request body is not valid JSON for this endpoint{where}: {Describe(ex)}"));
        }
        catch (InvalidOperationException ex) when (ex.InnerException is DecoderFallbackException)
        {
            return (null, Invalid("The request body is not valid UTF-8."));
        }
    }

    private static ProblemHttpResult Invalid(string detail) =>
        ApiProblems.Problem(StatusCodes.Status400BadRequest, ApiProblems.ValidationError, "The request body is invalid.", detail);

    /// <summary>The serializer's messages name .NET types; say what the client can act on instead.</summary>
    private static string Describe(JsonException ex) => ex.InnerException switch
    {
        DecoderFallbackException => "it is not valid UTF-8.",
        _ when ex.Message.StartsWith(StringOrArrayConverter.Expectation, StringComparison.Ordinal) => StringOrArrayConverter.Expectation,
        _ when ex.Message.Contains("could not be converted", StringComparison.Ordinal) => "a value has the wrong type.",
        _ when ex.Message.Contains("maximum configured depth", StringComparison.Ordinal) => "it is nested too deeply.",
        _ => "the JSON is malformed.",
    };
}
