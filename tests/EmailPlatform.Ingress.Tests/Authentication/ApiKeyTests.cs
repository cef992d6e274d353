using EmailPlatform.Testing;
using System.Net;
using System.Net.Http.Headers;
using EmailPlatform.Ingress.Tests.Support;

namespace EmailPlatform.Ingress.Tests.Authentication;

/// <summary><c>Authorization: Bearer &lt;key&gt;</c>: a missing or unknown key is 401; a key without the scope is 403.</summary>
public sealed class ApiKeyTests
{
    [Fact]
    public async Task PostingWithoutAuthorizationReturnsMissingApiKey()
    {
        await using var app = await IngressApp.StartAsync();
        using var client = app.CreateAnonymousClient();

        using var response = await PostAsync(client);

        await ProblemAssert.IsDetailedProblemAsync(response, HttpStatusCode.Unauthorized, "missing_api_key");
        Assert.Equal("Bearer", response.Headers.WwwAuthenticate.ToString());
        Assert.Equal(0, await app.CountOutboxAsync());
    }

    [Fact]
    public async Task PostingWithAnUnknownKeyReturnsInvalidApiKey()
    {
        await using var app = await IngressApp.StartAsync();
        using var client = app.CreateAnonymousClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", "re_" + new string('x', 40));

        using var response = await PostAsync(client);

        await ProblemAssert.IsDetailedProblemAsync(response, HttpStatusCode.Unauthorized, "invalid_api_key");
        Assert.Equal(0, await app.CountOutboxAsync());
    }

    [Fact]
    public async Task PostingWithBasicAuthenticationReturnsInvalidApiKey()
    {
        await using var app = await IngressApp.StartAsync();
        using var client = app.CreateAnonymousClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue(
            "Basic", Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes("api:" + app.ApiKey)));

        using var response = await PostAsync(client);

        var problem = await ProblemAssert.IsDetailedProblemAsync(response, HttpStatusCode.Unauthorized, "invalid_api_key");
        Assert.Contains("Bearer", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(0, await app.CountOutboxAsync());
    }

    [Fact]
    public async Task TheKeyIsCheckedBeforeTheBodyIsRead()
    {
        await using var app = await IngressApp.StartAsync();
        using var client = app.CreateAnonymousClient();
        using var content = new StringContent("{ not json", System.Text.Encoding.UTF8, "application/json");

        using var response = await client.PostAsync(new Uri("/v1/emails", UriKind.Relative), content);

        await ProblemAssert.IsProblemAsync(response, HttpStatusCode.Unauthorized, "missing_api_key");
    }

    [Fact]
    public async Task PostingWithAnEmptyBearerTokenReturnsMissingApiKey()
    {
        await using var app = await IngressApp.StartAsync();
        using var client = app.CreateAnonymousClient();
        client.DefaultRequestHeaders.TryAddWithoutValidation("Authorization", "Bearer ");

        using var response = await PostAsync(client);

        await ProblemAssert.IsDetailedProblemAsync(response, HttpStatusCode.Unauthorized, "missing_api_key");
        Assert.Equal(0, await app.CountOutboxAsync());
    }

    [Fact]
    public async Task ClientThatAcceptsOnlyHtmlStillGetsAJsonProblem()
    {
        await using var app = await IngressApp.StartAsync();
        using var client = app.CreateAnonymousClient();
        client.DefaultRequestHeaders.Accept.ParseAdd("text/html");

        using var response = await PostAsync(client);

        await ProblemAssert.IsDetailedProblemAsync(response, HttpStatusCode.Unauthorized, "missing_api_key");
    }

    [Fact]
    public async Task TheKeyIsCheckedBeforeTheContentType()
    {
        await using var app = await IngressApp.StartAsync();
        using var client = app.CreateAnonymousClient();
        using var content = new StringContent("hello", System.Text.Encoding.UTF8, "text/plain");

        using var response = await client.PostAsync(new Uri("/v1/emails", UriKind.Relative), content);

        await ProblemAssert.IsDetailedProblemAsync(response, HttpStatusCode.Unauthorized, "missing_api_key");
    }

    private static async Task<HttpResponseMessage> PostAsync(HttpClient client)
    {
        using var content = new StringContent(SendBodies.Json().ToJsonString(), System.Text.Encoding.UTF8, "application/json");
        return await client.PostAsync(new Uri("/v1/emails", UriKind.Relative), content);
    }
}
