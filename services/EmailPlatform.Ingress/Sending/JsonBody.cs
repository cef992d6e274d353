using System.Buffers;
using System.Text.Json;
using System.Text.Unicode;
using EmailPlatform.ServiceDefaults.Json;
using EmailPlatform.ServiceDefaults.Memory;
using EmailPlatform.ServiceDefaults.Problems;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace EmailPlatform.Ingress.Sending;

/// <summary>A request body read whole (for the idempotency hash) and parsed with the public API's conventions.</summary>
internal sealed record JsonBody<T>(T? Value, ReadOnlyMemory<byte> Raw, ProblemHttpResult? Problem) where T : class;

/// <summary>
/// One item of a JSON array read by <see cref="JsonBody.ReadArrayAsync{T}"/>: its value (null for a JSON <c>null</c>),
/// or, when it has the wrong shape, <see cref="Error"/> and the field at fault (<see cref="Path"/>, null for the item
/// itself).
/// </summary>
internal sealed record JsonItem<T>(T? Value, string? Path, string? Error) where T : class;

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

    /// <summary>What one read of the request body takes at most (Kestrel hands it over in smaller pieces anyway).</summary>
    private const int ReadChunk = 16 * 1024;

    /// <summary>The serializer's reading rules (depth, comments, trailing commas), for reading an array item by item.</summary>
    private static readonly JsonReaderOptions ReaderOptions = new()
    {
        MaxDepth = WireJson.Options.MaxDepth,
        CommentHandling = WireJson.Options.ReadCommentHandling,
        AllowTrailingCommas = WireJson.Options.AllowTrailingCommas,
    };

    private static ReadOnlySpan<byte> ByteOrderMark => [0xEF, 0xBB, 0xBF];

    public static async Task<JsonBody<T>> ReadAsync<T>(HttpRequest request, CancellationToken cancellationToken)
        where T : class
    {
        var (raw, json, problem) = await ReadJsonAsync(request, cancellationToken);
        if (problem is not null)
        {
            return Fail<T>(problem);
        }

        try
        {
            var value = JsonSerializer.Deserialize<T>(json.Span, WireJson.Options);
            return value is null ? Fail<T>(Invalid("The request body must not be null.")) : new JsonBody<T>(value, raw, null);
        }
        catch (JsonException ex)
        {
            return Fail<T>(Invalid(ex));
        }
    }

    /// <summary>
    /// Reads a JSON array whose items are parsed one by one, so that an item of the wrong shape is that item's error
    /// (<see cref="JsonItem{T}.Error"/>) instead of the whole body's: a permissive batch accepts the others. A body that is
    /// not well-formed JSON, or not an array, is still the whole body's problem. Each item is parsed from the body's own
    /// bytes.
    /// </summary>
    public static async Task<JsonBody<List<JsonItem<T>>>> ReadArrayAsync<T>(HttpRequest request, CancellationToken cancellationToken)
        where T : class
    {
        var (raw, json, problem) = await ReadJsonAsync(request, cancellationToken);
        if (problem is not null)
        {
            return Fail<List<JsonItem<T>>>(problem);
        }

        var items = new List<JsonItem<T>>();
        var reader = new Utf8JsonReader(json.Span, ReaderOptions);
        try
        {
            reader.Read();
            if (reader.TokenType != JsonTokenType.StartArray)
            {
                return Fail<List<JsonItem<T>>>(Invalid("The request body must be a JSON array of emails."));
            }

            while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
            {
                var start = (int)reader.TokenStartIndex;
                reader.Skip();
                items.Add(Parse<T>(json.Span[start..(int)reader.BytesConsumed]));
            }

            // Anything but white space after the array is malformed (the reader throws).
            reader.Read();
        }
        catch (JsonException ex)
        {
            return Fail<List<JsonItem<T>>>(Invalid(ex));
        }

        return new JsonBody<List<JsonItem<T>>>(items, raw, null);
    }

    private static JsonItem<T> Parse<T>(ReadOnlySpan<byte> item) where T : class
    {
        try
        {
            return new JsonItem<T>(JsonSerializer.Deserialize<T>(item, WireJson.Options), null, null);
        }
        catch (JsonException ex)
        {
            var path = PathOf(ex);
            return new JsonItem<T>(null, path, $"Not valid JSON for an email{(path is null ? "" : $" at '{path}'")}: {Describe(ex)}");
        }
    }

    /// <summary>
    /// The body as sent (<c>Raw</c>, for the idempotency hash) and as JSON to parse (without a byte order mark), once its
    /// content type, size and encoding are right.
    /// </summary>
    private static async Task<(ReadOnlyMemory<byte> Raw, ReadOnlyMemory<byte> Json, ProblemHttpResult? Problem)> ReadJsonAsync(
        HttpRequest request, CancellationToken cancellationToken)
    {
        if (!request.HasJsonContentType())
        {
            return (default, default, ApiProblems.Problem(StatusCodes.Status415UnsupportedMediaType, ApiProblems.UnsupportedMediaType,
                "Unsupported media type.", "Send the request body as JSON with 'Content-Type: application/json'."));
        }

        var (raw, problem) = await ReadBoundedAsync(request, cancellationToken);
        if (problem is not null)
        {
            return (default, default, problem);
        }

        if (!Utf8.IsValid(raw.Span))
        {
            return (default, default, Invalid("The request body is not valid UTF-8."));
        }

        return (raw, raw.Span.StartsWith(ByteOrderMark) ? raw[ByteOrderMark.Length..] : raw, null);
    }

    /// <summary>The whole body's problem for a value of the wrong shape, naming the field when the serializer could.</summary>
    private static ProblemHttpResult Invalid(JsonException exception)
    {
        var path = PathOf(exception);
        var detail = $"The request body is not valid JSON for this endpoint{(path is null ? "" : $" at '{path}'")}: {Describe(exception)}";
        return path is null
            ? Invalid(detail)
            : ApiProblems.FieldProblem(StatusCodes.Status400BadRequest, ApiProblems.ValidationError, "The request body is invalid.", detail,
                new Dictionary<string, string[]> { [path] = [Describe(exception)] });
    }

    /// <summary>Where in the body the serializer failed (<c>attachments[0].filename</c>, <c>[1].to</c>), or null for the whole body.</summary>
    internal static string? PathOf(JsonException exception) =>
        string.IsNullOrEmpty(exception.Path) || exception.Path == "$" ? null : exception.Path.TrimStart('$', '.');

    /// <summary>
    /// Reads the body once its share of the replica's <see cref="RequestBodyBudget"/> is taken, which it holds until the
    /// answer is sent (the parsed request and what is built from it live as long).
    /// </summary>
    /// <returns>The body (the buffer it was read into, not a copy), or the problem: too large (413), or the budget stayed
    /// full for <c>Ingress:MaxBodyWait</c> (503).</returns>
    private static async Task<(ReadOnlyMemory<byte> Body, ProblemHttpResult? Problem)> ReadBoundedAsync(
        HttpRequest request, CancellationToken cancellationToken)
    {
        var services = request.HttpContext.RequestServices;
        var limit = services.GetRequiredService<IOptions<IngressOptions>>().Value.MaxRequestBodyBytes;
        if (request.ContentLength > limit)
        {
            return (default, TooLarge(limit));
        }

        var budget = services.GetRequiredService<RequestBodyBudget>();
        var lease = await TakeAsync(request, budget, request.ContentLength ?? Math.Min(RequestBodyBudget.FirstStep, limit), cancellationToken);
        if (lease is null)
        {
            return (default, Busy(request));
        }

        // Sized by the declared length only up to a point: a client declaring 40 MB and sending nothing holds no 40 MB.
        using var buffer = new MemoryStream(request.ContentLength is { } length ? (int)Math.Min(length, InitialBuffer) : 4096);
        // Pooled, not allocated per request: a fresh chunk was 80 KB allocated and zeroed for every request, however small.
        var chunk = ArrayPool<byte>.Shared.Rent(ReadChunk);
        int read;
        try
        {
            while ((read = await request.Body.ReadAsync(chunk, cancellationToken)) > 0)
            {
                var size = buffer.Length + read;
                if (size > limit)
                {
                    return (default, TooLarge(limit));
                }

                if (size > lease.Bytes)
                {
                    // A body sent without Content-Length outgrew its share: what it holds is given back before it
                    // waits for a larger one, so that two growing bodies never wait for each other.
                    lease.Dispose();
                    lease = await TakeAsync(request, budget, Math.Min(limit, Math.Max(lease.Bytes * 2, size)), cancellationToken);
                    if (lease is null)
                    {
                        return (default, Busy(request));
                    }
                }

                buffer.Write(chunk, 0, read);
            }
        }
        catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            // Kestrel's own limit (set just above ours) stopped a body without Content-Length.
            return (default, TooLarge(limit));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(chunk);
        }

        return (buffer.GetBuffer().AsMemory(0, (int)buffer.Length), null);
    }

    /// <summary>A share of the budget, given back when the response has been sent.</summary>
    private static async Task<ByteBudget.Lease?> TakeAsync(HttpRequest request, RequestBodyBudget budget, long bytes, CancellationToken cancellationToken)
    {
        var lease = await budget.TryEnterAsync(bytes, cancellationToken);
        if (lease is not null)
        {
            request.HttpContext.Response.RegisterForDispose(lease);
        }

        return lease;
    }

    private static ProblemHttpResult TooLarge(long limit) =>
        ApiProblems.Problem(StatusCodes.Status413PayloadTooLarge, ApiProblems.PayloadTooLarge,
            "Request body too large.", $"The request body is larger than {limit} bytes.");

    private static ProblemHttpResult Busy(HttpRequest request)
    {
        request.HttpContext.Response.Headers.RetryAfter = "5";
        return ApiProblems.Problem(StatusCodes.Status503ServiceUnavailable, ApiProblems.ServiceUnavailable, "Too many large requests in progress.",
            "This replica is holding as many request bodies as it may (Ingress:MaxBodyBytesInFlight); nothing was accepted. Try again shortly.");
    }

    private static JsonBody<T> Fail<T>(ProblemHttpResult problem) where T : class => new(null, ReadOnlyMemory<byte>.Empty, problem);

    private static ProblemHttpResult Invalid(string detail) =>
        ApiProblems.Problem(StatusCodes.Status400BadRequest, ApiProblems.ValidationError, "The request body is invalid.", detail);

    /// <summary>The serializer's messages name .NET types; say what the client can act on instead.</summary>
    private static string Describe(JsonException ex) => ex.InnerException switch
    {
        _ when ex.Message.StartsWith(StringOrArrayConverter.Expectation, StringComparison.Ordinal) => StringOrArrayConverter.Expectation,
        _ when ex.Message.StartsWith(FileNameConverter.Expectation, StringComparison.Ordinal) => FileNameConverter.Expectation,
        _ when ex.Message.Contains("could not be converted", StringComparison.Ordinal) => "a value has the wrong type or is not one of the allowed values.",
        _ when ex.Message.Contains("maximum configured depth", StringComparison.Ordinal) => "it is nested too deeply.",
        _ => "the JSON is malformed.",
    };
}
