using System.Text.Json;
using System.Text.Unicode;
using EmailPlatform.ServiceDefaults.Json;
using EmailPlatform.ServiceDefaults.Problems;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace EmailPlatform.Ingress.Sending;

/// <summary>A request body read whole (for the idempotency hash) and parsed with the public API's conventions.</summary>
internal sealed record JsonBody<T>(T? Value, ReadOnlyMemory<byte> Raw, ProblemHttpResult? Problem) where T : class;

/// <summary>
/// Reads a JSON body and turns every way it can be wrong (content type, size, syntax, types, encoding) into a
/// clear problem instead of the framework's bare 400. The body is checked and parsed as the UTF-8 it arrived in: a
/// body of tens of megabytes is never decoded to a string twice its size for the serializer to encode back. A UTF-8
/// byte order mark before it is ignored (RFC 8259, section 8.1), as ASP.NET Core's own JSON reading does.
/// </summary>
internal static class JsonBody
{
    /// <summary>The most a request's declared <c>Content-Length</c> reserves before its bytes arrive.</summary>
    private const int InitialBuffer = 256 * 1024;

    private static ReadOnlySpan<byte> ByteOrderMark => [0xEF, 0xBB, 0xBF];

    public static async Task<JsonBody<T>> ReadAsync<T>(HttpRequest request, CancellationToken cancellationToken)
        where T : class
    {
        if (!request.HasJsonContentType())
        {
            return Fail<T>(ApiProblems.Problem(StatusCodes.Status415UnsupportedMediaType, ApiProblems.UnsupportedMediaType,
                "Unsupported media type.", "Send the request body as JSON with 'Content-Type: application/json'."));
        }

        var limit = request.HttpContext.RequestServices.GetRequiredService<IOptions<IngressOptions>>().Value.MaxRequestBodyBytes;
        var raw = await ReadBoundedAsync(request, limit, cancellationToken);
        if (raw is null)
        {
            return Fail<T>(ApiProblems.Problem(StatusCodes.Status413PayloadTooLarge, ApiProblems.PayloadTooLarge,
                "Request body too large.", $"The request body is larger than {limit} bytes."));
        }

        var json = raw.Value.Span;
        if (!Utf8.IsValid(json))
        {
            return Fail<T>(Invalid("The request body is not valid UTF-8."));
        }

        try
        {
            var value = JsonSerializer.Deserialize<T>(json.StartsWith(ByteOrderMark) ? json[ByteOrderMark.Length..] : json, WireJson.Options);
            return value is null ? Fail<T>(Invalid("The request body must not be null.")) : new JsonBody<T>(value, raw.Value, null);
        }
        catch (JsonException ex)
        {
            var where = string.IsNullOrEmpty(ex.Path) || ex.Path == "$" ? "" : $" at '{ex.Path.TrimStart('$', '.')}'";
            return Fail<T>(Invalid($"The request body is not valid JSON for this endpoint{where}: {Describe(ex)}"));
        }
    }

    /// <returns>The body (the buffer it was read into, not a copy), or null when it is longer than <paramref name="limit"/>.</returns>
    private static async Task<ReadOnlyMemory<byte>?> ReadBoundedAsync(HttpRequest request, long limit, CancellationToken cancellationToken)
    {
        if (request.ContentLength > limit)
        {
            return null;
        }

        // Sized by the declared length only up to a point: a client declaring 40 MB and sending nothing holds no 40 MB.
        using var buffer = new MemoryStream(request.ContentLength is { } length ? (int)Math.Min(length, InitialBuffer) : 4096);
        var chunk = new byte[81920];
        int read;
        try
        {
            while ((read = await request.Body.ReadAsync(chunk, cancellationToken)) > 0)
            {
                if (buffer.Length + read > limit)
                {
                    return null;
                }

                buffer.Write(chunk, 0, read);
            }
        }
        catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            // Kestrel's own limit (set just above ours) stopped a body without Content-Length.
            return null;
        }

        return buffer.GetBuffer().AsMemory(0, (int)buffer.Length);
    }

    private static JsonBody<T> Fail<T>(ProblemHttpResult problem) where T : class => new(null, ReadOnlyMemory<byte>.Empty, problem);

    private static ProblemHttpResult Invalid(string detail) =>
        ApiProblems.Problem(StatusCodes.Status400BadRequest, ApiProblems.ValidationError, "The request body is invalid.", detail);

    /// <summary>The serializer's messages name .NET types; say what the client can act on instead.</summary>
    private static string Describe(JsonException ex) => ex.InnerException switch
    {
        _ when ex.Message.StartsWith(StringOrArrayConverter.Expectation, StringComparison.Ordinal) => StringOrArrayConverter.Expectation,
        _ when ex.Message.Contains("could not be converted", StringComparison.Ordinal) => "a value has the wrong type or is not one of the allowed values.",
        _ when ex.Message.Contains("maximum configured depth", StringComparison.Ordinal) => "it is nested too deeply.",
        _ => "the JSON is malformed.",
    };
}
