using EmailPlatform.Status.Tests.Support;
using EmailPlatform.Testing;

namespace EmailPlatform.Status.Tests.Hosting;

/// <summary>The status service's OpenAPI document is served, and describes each endpoint with its body and problems.</summary>
public sealed class OpenApiTests
{
    [Theory]
    [InlineData("/v1/bounces", "post", "message/rfc822")]
    [InlineData("/v1/complaints", "post", "message/rfc822")]
    [InlineData("/v1/webhooks", "post", "application/json")]
    [InlineData("/v1/suppressions/{address}", "put", "application/json")]
    [InlineData("/v1/suppressions/import", "post", "application/json")]
    [InlineData("/v1/bulk/retry", "post", "application/json")]
    [InlineData("/v1/emails/{id}", "get", null)]
    [InlineData("/v1/emails", "get", null)]
    public async Task DocumentDescribesTheEndpointWithItsBodyAndProblems(string path, string method, string? contentType)
    {
        await using var api = await StatusApi.StartAsync();
        using var client = api.CreateClient();

        var document = await OpenApiDocument.GetAsync(client);

        var operation = OpenApiDocument.KeyedOperation(document, path, method);
        if (contentType is null)
        {
            Assert.False(operation.TryGetProperty("requestBody", out _), $"{method} {path} takes no body");
            return;
        }

        var content = operation.GetProperty("requestBody").GetProperty("content");
        Assert.Equal([contentType], content.EnumerateObject().Select(c => c.Name));
        Assert.True(content.GetProperty(contentType).TryGetProperty("schema", out _), $"{method} {path} body has no schema");
        Assert.True(operation.GetProperty("responses").TryGetProperty("400", out _), $"{method} {path} does not document 400");
    }
}
