using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using EmailPlatform.Testing;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;

namespace EmailPlatform.Standalone.Tests;

/// <summary>
/// The standalone host serves the status and relay routes itself, with no ingress in front: they are limited per key
/// as the send routes are, from the same bucket.
/// </summary>
public sealed class RateLimitTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("emailplatform-ratelimit-").FullName;
    private readonly string _apiKey = TestInfrastructure.NewApiKey();

    [Fact]
    public async Task ReadingEmailsIsRateLimitedPerKeyWithTheRateLimitHeaders()
    {
        // 0.01/s with 2 s of burst: a bucket of one request, which does not refill within the test. The clock stands
        // still, so the headers read exactly the 100 s a token takes however long the requests took.
        var clock = new ManualClock(DateTimeOffset.UtcNow);
        await using var host = StandaloneHost.Create(_root, _apiKey, ServiceProcess.FreeTcpPort(),
            web => web.ConfigureTestServices(services => services.AddSingleton<TimeProvider>(clock)));
        using var client = await ClientWithKeyAsync(host, new { name = "slow reader", scopes = new[] { "read" }, rate_limit_per_second = 0.01 });

        using var first = await client.GetAsync(new Uri("/v1/emails", UriKind.Relative));
        using var second = await client.GetAsync(new Uri("/v1/emails", UriKind.Relative));

        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal(("1", "0"), Headers(first));
        Assert.InRange(Seconds(first, "RateLimit-Reset"), 99, 100);
        await ProblemAssert.IsDetailedProblemAsync(second, HttpStatusCode.TooManyRequests, "rate_limit_exceeded");
        Assert.InRange(Seconds(second, "Retry-After"), 99, 100);
        Assert.Equal(("1", "0"), Headers(second));
    }

    [Fact]
    public async Task ASendAndAReadByOneKeySpendOneBudget()
    {
        // 0.01/s with 200 s of burst: a bucket of two requests.
        await using var host = StandaloneHost.Create(_root, _apiKey, ServiceProcess.FreeTcpPort(),
            web => web.UseSetting("Ingress:RateLimit:BurstSeconds", "200"));
        using var client = await ClientWithKeyAsync(host, new { name = "sender", rate_limit_per_second = 0.01 });

        using var read = await client.GetAsync(new Uri("/v1/emails", UriKind.Relative));
        using var send = await client.PostAsJsonAsync("/v1/emails", new { from = "hello@acme.test", to = "ann@example.test", subject = "Hi", text = "Hi." });
        using var secondRead = await client.GetAsync(new Uri("/v1/emails", UriKind.Relative));

        Assert.Equal(HttpStatusCode.OK, read.StatusCode);
        Assert.Equal(("2", "1"), Headers(read));
        Assert.Equal(HttpStatusCode.Accepted, send.StatusCode);
        Assert.Equal(("2", "0"), Headers(send));
        await ProblemAssert.IsDetailedProblemAsync(secondRead, HttpStatusCode.TooManyRequests, "rate_limit_exceeded");
        Assert.Contains("Retry-After", secondRead.Headers.Select(h => h.Key));
    }

    [Fact]
    public async Task EveryStatusAndRelayRouteIsLimitedFromTheKeysBucket()
    {
        await using var host = StandaloneHost.Create(_root, _apiKey, ServiceProcess.FreeTcpPort());
        using var client = await ClientWithKeyAsync(host, new { name = "slow admin", scopes = new[] { "read", "admin" }, rate_limit_per_second = 0.01 });

        using var relays = await client.GetAsync(new Uri("/v1/relays", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, relays.StatusCode);
        Assert.Equal(("1", "0"), Headers(relays));

        var refused = new (HttpMethod Method, string Path)[]
        {
            (HttpMethod.Get, "/v1/relays"),
            (HttpMethod.Get, $"/v1/emails/{Guid.NewGuid()}"),
            (HttpMethod.Get, "/v1/webhooks"),
            (HttpMethod.Get, "/v1/suppressions"),
            (HttpMethod.Get, "/v1/suppressions/ann%40example.test"),
            (HttpMethod.Delete, "/v1/recipients/ann%40example.test"),
            (HttpMethod.Post, "/v1/bulk/retry"),
        };
        foreach (var (method, path) in refused)
        {
            using var request = new HttpRequestMessage(method, new Uri(path, UriKind.Relative));
            if (method == HttpMethod.Post)
            {
                request.Content = JsonContent.Create(new { });
            }

            using var response = await client.SendAsync(request);
            Assert.True(response.StatusCode == HttpStatusCode.TooManyRequests, $"{method} {path}: {(int)response.StatusCode}");
            Assert.Equal(("1", "0"), Headers(response));
        }
    }

    /// <summary>A client with a new key made by the bootstrap key.</summary>
    private async Task<HttpClient> ClientWithKeyAsync(WebApplicationFactory<StandaloneOptions> host, object key)
    {
        using var admin = StandaloneHost.Client(host, _apiKey);
        using var created = await admin.PostAsJsonAsync("/v1/api-keys", key);
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var token = JsonNode.Parse(await created.Content.ReadAsStringAsync())!["token"]!.GetValue<string>();
        return StandaloneHost.Client(host, token);
    }

    private static (string Limit, string Remaining) Headers(HttpResponseMessage response) =>
        (response.Headers.GetValues("RateLimit-Limit").Single(), response.Headers.GetValues("RateLimit-Remaining").Single());

    private static int Seconds(HttpResponseMessage response, string header) =>
        int.Parse(response.Headers.GetValues(header).Single(), CultureInfo.InvariantCulture);

    public void Dispose() => Directory.Delete(_root, recursive: true);
}
