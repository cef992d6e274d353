using System.Text;
using System.Text.Json;
using EmailPlatform.Ingress.Tests.Support;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace EmailPlatform.Ingress.Tests.Reads;

/// <summary>
/// A forwarded request reaches the status service at the path it was authorized for: the ingress sends the raw request
/// target on, with the bootstrap key, and <see cref="Uri"/> normalizes a path as Kestrel does not.
/// </summary>
public sealed class ForwardedPathTests
{
    [Theory]
    [InlineData(@"/v1/emails/x\..\..\webhooks")]
    [InlineData(@"/v1/emails/x\..\..\webhooks\0196a8c6-3f0e-7000-8000-000000000001\deliveries")]
    [InlineData(@"/v1/suppressions/x\..\..\webhooks")]
    public async Task APathThatNormalizesToAnotherRouteIsRefusedAndNotForwarded(string target)
    {
        // Kestrel routes each of these by an email id or an address (the read scope); the status service would have
        // answered them as GET /v1/webhooks…, which needs the admin scope.
        using var status = new StatusStandIn(_ => (200, """{"object": "list", "data": []}"""));
        await using var app = await IngressApp.StartAsync(settings: new Dictionary<string, string?> { ["Ingress:StatusUrl"] = status.Url });
        var (reader, _) = await app.CreateApiKeyAsync(new { name = "reader", scopes = new[] { "read" } });

        var (code, body) = await SendRawAsync(app, target, target, reader);

        Assert.Equal(StatusCodes.Status400BadRequest, code);
        using var problem = JsonDocument.Parse(body);
        Assert.Equal("invalid_parameter", problem.RootElement.GetProperty("name").GetString());
        Assert.Empty(status.Requests);
    }

    [Theory]
    // A '%' the client escaped stays escaped: the status service decodes it once, as it would the client's own request.
    [InlineData("/v1/suppressions/a%2541b@example.com", "/v1/suppressions/a%41b@example.com", "GET /v1/suppressions/a%2541b@example.com")]
    // A '/' in a local part, escaped, stays within its segment.
    [InlineData("/v1/suppressions/a%2Fb@example.com", "/v1/suppressions/a%2Fb@example.com", "GET /v1/suppressions/a%2Fb@example.com")]
    // The same in lower case: Uri writes the escape in upper case, which names the same character.
    [InlineData("/v1/suppressions/a%2fb@example.com", "/v1/suppressions/a%2fb@example.com", "GET /v1/suppressions/a%2Fb@example.com")]
    [InlineData("/v1/suppressions/j%C3%B6rg@example.com?x=1", "/v1/suppressions/jörg@example.com", "GET /v1/suppressions/j%C3%B6rg@example.com?x=1")]
    public async Task EscapedPathsAreForwardedAsTheClientSentThem(string target, string path, string forwarded)
    {
        using var status = new StatusStandIn(_ => (200, """{"object": "suppression"}"""));
        await using var app = await IngressApp.StartAsync(settings: new Dictionary<string, string?> { ["Ingress:StatusUrl"] = status.Url });
        var (reader, _) = await app.CreateApiKeyAsync(new { name = "reader", scopes = new[] { "read" } });

        var (code, _) = await SendRawAsync(app, target, path, reader);

        Assert.Equal(StatusCodes.Status200OK, code);
        Assert.Equal(forwarded, Assert.Single(status.Requests).Line);
    }

    /// <summary>A GET with the given request target and the path Kestrel would have decoded from it.</summary>
    private static async Task<(int Code, string Body)> SendRawAsync(IngressApp app, string target, string path, string apiKey)
    {
        var query = target.IndexOf('?', StringComparison.Ordinal);
        var context = await app.Server.SendAsync(c =>
        {
            c.Request.Method = HttpMethods.Get;
            c.Request.Path = new PathString(path);
            c.Request.QueryString = query < 0 ? QueryString.Empty : new QueryString(target[query..]);
            c.Features.Get<IHttpRequestFeature>()!.RawTarget = target;
            c.Request.Headers.Authorization = "Bearer " + apiKey;
        });
        using var reader = new StreamReader(context.Response.Body, Encoding.UTF8);
        return (context.Response.StatusCode, await reader.ReadToEndAsync());
    }
}
