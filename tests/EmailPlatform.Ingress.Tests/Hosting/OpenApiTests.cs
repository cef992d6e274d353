using System.Net;
using System.Text.Json;
using EmailPlatform.Ingress.Tests.Support;

namespace EmailPlatform.Ingress.Tests.Hosting;

/// <summary>The OpenAPI document describes every endpoint with its body and its problems.</summary>
public sealed class OpenApiTests
{
    [Theory]
    [InlineData("/v1/emails", "post", "subject")]
    [InlineData("/v1/emails/batch", "post", "[]")]
    [InlineData("/v1/emails/raw", "post", "rcpt_to")]
    [InlineData("/v1/emails/{id}/cancel", "post", null)]
    [InlineData("/v1/emails/{id}", "patch", "scheduled_at")]
    [InlineData("/v1/api-keys", "post", "allowed_sender_domains")]
    [InlineData("/v1/api-keys", "get", null)]
    [InlineData("/v1/api-keys/{id}", "delete", null)]
    public async Task DocumentDescribesTheEndpointWithItsBodyAndProblems(string path, string method, string? property)
    {
        await using var app = await IngressApp.StartAsync();
        using var client = app.CreateAnonymousClient();

        using var response = await client.GetAsync(new Uri("/openapi/v1.json", UriKind.Relative));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var paths = document.RootElement.GetProperty("paths");
        Assert.True(paths.TryGetProperty(path, out var item), $"no {path} in {string.Join(", ", paths.EnumerateObject().Select(p => p.Name))}");
        Assert.True(item.TryGetProperty(method, out var operation), $"no {method} on {path}");
        var responses = operation.GetProperty("responses");
        foreach (var status in new[] { "401", "403" })
        {
            Assert.True(responses.TryGetProperty(status, out var problem), $"{method} {path} does not document {status}");
            Assert.True(problem.GetProperty("content").TryGetProperty("application/problem+json", out _), $"{status} is not a problem");
        }

        if (property is null)
        {
            Assert.False(operation.TryGetProperty("requestBody", out _), $"{method} {path} takes no body");
            return;
        }

        Assert.True(responses.TryGetProperty("400", out var invalid), $"{method} {path} does not document 400");
        Assert.True(invalid.GetProperty("content").TryGetProperty("application/problem+json", out _));
        var json = operation.GetProperty("requestBody").GetProperty("content").GetProperty("application/json");
        Assert.NotEqual(JsonValueKind.Undefined, json.GetProperty("example").ValueKind);
        var schema = Resolve(document.RootElement, json.GetProperty("schema"));
        if (property == "[]")
        {
            Assert.Equal("array", schema.GetProperty("type").GetString());
            schema = Resolve(document.RootElement, schema.GetProperty("items"));
            property = "subject";
        }

        Assert.True(schema.GetProperty("properties").TryGetProperty(property, out _), $"{method} {path} body has no '{property}': {schema}");
    }

    [Fact]
    public async Task SendEmailRequestSchemaUsesTheWireNames()
    {
        await using var app = await IngressApp.StartAsync();
        using var client = app.CreateAnonymousClient();

        using var document = JsonDocument.Parse(await client.GetStringAsync(new Uri("/openapi/v1.json", UriKind.Relative)));

        var body = document.RootElement.GetProperty("paths").GetProperty("/v1/emails").GetProperty("post").GetProperty("requestBody");
        var properties = Resolve(document.RootElement, body.GetProperty("content").GetProperty("application/json").GetProperty("schema")).GetProperty("properties");
        foreach (var name in new[] { "from", "to", "cc", "bcc", "reply_to", "subject", "html", "text", "headers", "attachments", "tags", "scheduled_at", "expires_at", "metadata", "priority" })
        {
            Assert.True(properties.TryGetProperty(name, out _), $"SendEmailRequest has no '{name}': {properties}");
        }
    }

    /// <summary>The schema itself, following a <c>$ref</c> into the components.</summary>
    private static JsonElement Resolve(JsonElement document, JsonElement schema) =>
        schema.TryGetProperty("$ref", out var reference)
            ? document.GetProperty("components").GetProperty("schemas").GetProperty(reference.GetString()!["#/components/schemas/".Length..])
            : schema;
}
