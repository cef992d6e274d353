using System.Net;
using System.Text.Json;
using EmailPlatform.Status.Tests.Support;

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

        using var response = await client.GetAsync(new Uri("/openapi/v1.json", UriKind.Relative));

        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, body);
        using var document = JsonDocument.Parse(body);
        var paths = document.RootElement.GetProperty("paths");
        Assert.True(paths.TryGetProperty(path, out var item), $"no {path} in {string.Join(", ", paths.EnumerateObject().Select(p => p.Name))}");
        Assert.True(item.TryGetProperty(method, out var operation), $"no {method} on {path}");
        var responses = operation.GetProperty("responses");
        foreach (var status in new[] { "401", "403" })
        {
            Assert.True(responses.TryGetProperty(status, out var problem), $"{method} {path} does not document {status}");
            Assert.True(problem.GetProperty("content").TryGetProperty("application/problem+json", out _), $"{status} is not a problem");
        }

        if (contentType is null)
        {
            Assert.False(operation.TryGetProperty("requestBody", out _), $"{method} {path} takes no body");
            return;
        }

        var content = operation.GetProperty("requestBody").GetProperty("content");
        Assert.Equal([contentType], content.EnumerateObject().Select(c => c.Name));
        Assert.True(content.GetProperty(contentType).TryGetProperty("schema", out _), $"{method} {path} body has no schema");
        Assert.True(responses.TryGetProperty("400", out _), $"{method} {path} does not document 400");
    }
}
