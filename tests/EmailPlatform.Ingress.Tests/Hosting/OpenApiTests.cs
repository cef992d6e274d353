using System.Text.Json;
using EmailPlatform.Ingress.Tests.Support;
using EmailPlatform.Testing;

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

        var document = await OpenApiDocument.GetAsync(client);

        var operation = OpenApiDocument.KeyedOperation(document, path, method);
        var responses = operation.GetProperty("responses");
        if (property is null)
        {
            Assert.False(operation.TryGetProperty("requestBody", out _), $"{method} {path} takes no body");
            return;
        }

        Assert.True(responses.TryGetProperty("400", out var invalid), $"{method} {path} does not document 400");
        Assert.True(invalid.GetProperty("content").TryGetProperty("application/problem+json", out _));
        var json = operation.GetProperty("requestBody").GetProperty("content").GetProperty("application/json");
        Assert.NotEqual(JsonValueKind.Undefined, json.GetProperty("example").ValueKind);
        var schema = OpenApiDocument.Resolve(document, json.GetProperty("schema"));
        if (property == "[]")
        {
            Assert.Equal("array", schema.GetProperty("type").GetString());
            schema = OpenApiDocument.Resolve(document, schema.GetProperty("items"));
            property = "subject";
        }

        Assert.True(schema.GetProperty("properties").TryGetProperty(property, out _), $"{method} {path} body has no '{property}': {schema}");
    }

    [Fact]
    public async Task SendEmailRequestSchemaUsesTheWireNames()
    {
        await using var app = await IngressApp.StartAsync();
        using var client = app.CreateAnonymousClient();

        var document = await OpenApiDocument.GetAsync(client);

        var body = document.GetProperty("paths").GetProperty("/v1/emails").GetProperty("post").GetProperty("requestBody");
        var properties = OpenApiDocument.Resolve(document, body.GetProperty("content").GetProperty("application/json").GetProperty("schema")).GetProperty("properties");
        foreach (var name in new[] { "from", "to", "cc", "bcc", "reply_to", "subject", "html", "text", "headers", "attachments", "tags", "scheduled_at", "expires_at", "metadata", "priority" })
        {
            Assert.True(properties.TryGetProperty(name, out _), $"SendEmailRequest has no '{name}': {properties}");
        }
    }
}
