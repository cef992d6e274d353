using System.Net;
using System.Text.Json;
using Xunit;

namespace EmailPlatform.Testing;

/// <summary>A service's OpenAPI document as its tests read it: fetched, one operation found, its auth problems checked.</summary>
public static class OpenApiDocument
{
    /// <summary>The document at <c>/openapi/v1.json</c>, after asserting it is served.</summary>
    public static async Task<JsonElement> GetAsync(HttpClient client)
    {
        using var response = await client.GetAsync(new Uri("/openapi/v1.json", UriKind.Relative));
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, body);
        using var document = JsonDocument.Parse(body);
        return document.RootElement.Clone();
    }

    /// <summary>
    /// The operation of <paramref name="method"/> on <paramref name="path"/>, after asserting it exists and documents the
    /// 401 and 403 problems and the bearer security requirement of an endpoint that needs a key.
    /// </summary>
    public static JsonElement KeyedOperation(JsonElement document, string path, string method)
    {
        var paths = document.GetProperty("paths");
        Assert.True(paths.TryGetProperty(path, out var item), $"no {path} in {string.Join(", ", paths.EnumerateObject().Select(p => p.Name))}");
        Assert.True(item.TryGetProperty(method, out var operation), $"no {method} on {path}");
        var responses = operation.GetProperty("responses");
        foreach (var status in new[] { "401", "403" })
        {
            Assert.True(responses.TryGetProperty(status, out var problem), $"{method} {path} does not document {status}");
            Assert.True(problem.GetProperty("content").TryGetProperty("application/problem+json", out _), $"{status} is not a problem");
        }

        // The key is a bearer token, declared once and required here, so that /docs offers a field for it.
        var scheme = document.GetProperty("components").GetProperty("securitySchemes").GetProperty("bearer");
        Assert.Equal(("http", "bearer"), (scheme.GetProperty("type").GetString(), scheme.GetProperty("scheme").GetString()));
        Assert.True(operation.TryGetProperty("security", out var security)
            && security.EnumerateArray().Any(r => r.TryGetProperty("bearer", out _)), $"{method} {path} does not require the bearer scheme");
        return operation;
    }

    /// <summary>The schema itself, following a <c>$ref</c> into the components.</summary>
    public static JsonElement Resolve(JsonElement document, JsonElement schema) =>
        schema.TryGetProperty("$ref", out var reference)
            ? document.GetProperty("components").GetProperty("schemas").GetProperty(reference.GetString()!["#/components/schemas/".Length..])
            : schema;
}
