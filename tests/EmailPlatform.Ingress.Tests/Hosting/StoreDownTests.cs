using System.Net;
using System.Net.Http.Headers;
using EmailPlatform.Ingress.Tests.Support;
using EmailPlatform.Testing;
using Microsoft.AspNetCore.Mvc.Testing;

namespace EmailPlatform.Ingress.Tests.Hosting;

/// <summary>While PostgreSQL cannot be reached the ingress answers 503 with Retry-After: the client may retry.</summary>
public sealed class StoreDownTests
{
    [Fact]
    public async Task SendWhileTheStoreIsUnreachableAnswers503WithRetryAfter()
    {
        var apiKey = TestInfrastructure.NewApiKey();
        await using var vhost = await TemporaryVirtualHost.CreateAsync();
        await using var factory = new WebApplicationFactory<Program>().WithWebHostBuilder(web =>
        {
            web.UseSetting("ConnectionStrings:Postgres",
                $"Host=127.0.0.1;Port={ServiceProcess.FreeTcpPort()};Username=emailplatform;Password=emailplatform;Database=nowhere;Timeout=3");
            web.UseSetting("ConnectionStrings:RabbitMq", vhost.Uri.ToString());
            web.UseSetting("Auth:BootstrapKey", apiKey);
        });
        using var client = factory.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);

        foreach (var (path, body) in new[]
        {
            ("/v1/emails", SendBodies.Json().ToJsonString()),
            ("/v1/emails/batch", $"[{SendBodies.Json().ToJsonString()}]"),
        })
        {
            using var response = await IngressApp.PostJsonAsync(client, path, body);

            await ProblemAssert.IsDetailedProblemAsync(response, HttpStatusCode.ServiceUnavailable, "service_unavailable");
            Assert.Equal("5", Assert.Single(response.Headers.GetValues("Retry-After")));
            AssertRateLimitHeaders(response);
        }

        // With an Idempotency-Key the store is read first: the same answer.
        using var idempotent = await IngressApp.PostJsonAsync(client, "/v1/emails", SendBodies.Json().ToJsonString(), ("Idempotency-Key", "k"));
        await ProblemAssert.IsDetailedProblemAsync(idempotent, HttpStatusCode.ServiceUnavailable, "service_unavailable");
        AssertRateLimitHeaders(idempotent);

        // A key other than the bootstrap key must be looked up in the store: 503, not 401.
        using var other = factory.CreateClient();
        other.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", "ep_live_" + new string('A', 43));
        using var lookedUp = await IngressApp.PostJsonAsync(other, "/v1/emails", SendBodies.Json().ToJsonString());
        await ProblemAssert.IsDetailedProblemAsync(lookedUp, HttpStatusCode.ServiceUnavailable, "service_unavailable");
    }

    /// <summary>The 503 is made by an exception handler, from a cleared response: the caller's budget is still on it.</summary>
    private static void AssertRateLimitHeaders(HttpResponseMessage response)
    {
        foreach (var header in new[] { "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset" })
        {
            Assert.True(response.Headers.TryGetValues(header, out var values), $"{header} is missing");
            Assert.True(int.TryParse(Assert.Single(values), out _), $"{header} is not a whole number");
        }
    }
}
