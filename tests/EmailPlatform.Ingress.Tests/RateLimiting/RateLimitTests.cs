using System.Net;
using System.Globalization;
using EmailPlatform.Ingress.RateLimiting;
using EmailPlatform.Ingress.Tests.Support;
using EmailPlatform.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace EmailPlatform.Ingress.Tests.RateLimiting;

/// <summary>Per API key token buckets: 429 with Retry-After, RateLimit-* headers on every answer.</summary>
public sealed class RateLimitTests
{
    private static readonly Dictionary<string, string?> OnePerSecond = new()
    {
        ["Ingress:RateLimit:PermitsPerSecond"] = "1",
        ["Ingress:RateLimit:BurstSeconds"] = "2",
    };

    [Fact]
    public void ABucketWithATinyRateSaysWhenItRefillsWithoutOverflowing()
    {
        // Keys stored before the minimum rate was enforced may have one: 1 / 1e-13 s is past TimeSpan's range.
        var bucket = new TokenBucket(1e-13, 1, 0);

        var first = bucket.TryTake(0);
        var second = bucket.TryTake(0);

        Assert.True(first.Taken);
        Assert.False(second.Taken);
        Assert.True(second.UntilNext > TimeSpan.FromDays(365), second.UntilNext.ToString());
        Assert.True(second.UntilFull >= second.UntilNext);
    }

    [Fact]
    public async Task RequestsOverTheBurstAreRefusedWith429AndRetryAfter()
    {
        await using var app = await StartWithFrozenLimiterAsync(new ManualClock(DateTimeOffset.UtcNow));
        using var client = app.CreateClient();
        var body = SendBodies.Json().ToJsonString();

        using var first = await IngressApp.PostJsonAsync(client, "/v1/emails", body);
        using var second = await IngressApp.PostJsonAsync(client, "/v1/emails", body);
        using var third = await IngressApp.PostJsonAsync(client, "/v1/emails", body);

        Assert.Equal(HttpStatusCode.Accepted, first.StatusCode);
        Assert.Equal(HttpStatusCode.Accepted, second.StatusCode);
        await ProblemAssert.IsDetailedProblemAsync(third, HttpStatusCode.TooManyRequests, "rate_limit_exceeded");
        var retryAfter = int.Parse(Assert.Single(third.Headers.GetValues("Retry-After")), CultureInfo.InvariantCulture);
        Assert.InRange(retryAfter, 1, 2);
        Assert.Equal(2, await app.CountOutboxAsync());

        Assert.Equal(("2", "1"), Headers(first));
        Assert.Equal(("2", "0"), Headers(second));
        Assert.Equal(("2", "0"), Headers(third));
        Assert.All(new[] { first, second, third }, r => Assert.InRange(
            int.Parse(r.Headers.GetValues("RateLimit-Reset").Single(), CultureInfo.InvariantCulture), 0, 2));
    }

    [Fact]
    public async Task TheBucketRefillsAtTheConfiguredRate()
    {
        var clock = new ManualClock(DateTimeOffset.UtcNow);
        await using var app = await StartWithFrozenLimiterAsync(clock);
        using var client = app.CreateClient();
        var body = SendBodies.Json().ToJsonString();
        using var first = await IngressApp.PostJsonAsync(client, "/v1/emails", body);
        using var second = await IngressApp.PostJsonAsync(client, "/v1/emails", body);
        using var refused = await IngressApp.PostJsonAsync(client, "/v1/emails", body);
        Assert.Equal(
            [HttpStatusCode.Accepted, HttpStatusCode.Accepted, HttpStatusCode.TooManyRequests], new[] { first, second, refused }.Select(r => r.StatusCode));
        var wait = TimeSpan.FromSeconds(int.Parse(refused.Headers.GetValues("Retry-After").Single(), CultureInfo.InvariantCulture));
        Assert.Equal(TimeSpan.FromSeconds(1), wait);

        // Half the wait brings half a token back: still refused. The other half brings a whole one.
        clock.Advance(wait / 2);
        using var early = await IngressApp.PostJsonAsync(client, "/v1/emails", body);
        clock.Advance(wait / 2);
        using var later = await IngressApp.PostJsonAsync(client, "/v1/emails", body);

        Assert.Equal(HttpStatusCode.TooManyRequests, early.StatusCode);
        Assert.Equal(HttpStatusCode.Accepted, later.StatusCode);
        Assert.Equal(("2", "0"), Headers(later));
    }

    [Fact]
    public async Task LimitsArePerKey()
    {
        await using var app = await StartWithFrozenLimiterAsync(new ManualClock(DateTimeOffset.UtcNow));
        var (token, _) = await app.CreateApiKeyAsync(new { name = "other" });
        using var bootstrap = app.CreateClient();
        using var other = app.CreateClient(token);
        var body = SendBodies.Json().ToJsonString();
        for (var i = 0; i < 3; i++)
        {
            using var _ = await IngressApp.PostJsonAsync(bootstrap, "/v1/emails", body);
        }

        using var exhausted = await IngressApp.PostJsonAsync(bootstrap, "/v1/emails", body);
        using var unaffected = await IngressApp.PostJsonAsync(other, "/v1/emails", body);

        Assert.Equal(HttpStatusCode.TooManyRequests, exhausted.StatusCode);
        Assert.Equal(HttpStatusCode.Accepted, unaffected.StatusCode);
        Assert.Equal(("2", "1"), Headers(unaffected));
    }

    [Fact]
    public async Task KeyWithItsOwnRateUsesIt()
    {
        await using var app = await IngressApp.StartAsync(settings: OnePerSecond);
        var (token, _) = await app.CreateApiKeyAsync(new { name = "fast", rate_limit_per_second = 5 });
        using var client = app.CreateClient(token);
        var body = SendBodies.Json().ToJsonString();

        var statuses = new List<HttpStatusCode>();
        HttpResponseMessage? last = null;
        for (var i = 0; i < 11; i++)
        {
            last?.Dispose();
            last = await IngressApp.PostJsonAsync(client, "/v1/emails", body);
            statuses.Add(last.StatusCode);
        }

        using (last)
        {
            // Capacity 5/s x 2 s = 10: ten accepted (a refill during the loop may add one), then refused.
            Assert.True(statuses.Take(10).All(s => s == HttpStatusCode.Accepted), string.Join(",", statuses));
            Assert.Equal("10", last!.Headers.GetValues("RateLimit-Limit").Single());
        }
    }

    [Fact]
    public async Task ValidationProblemsAlsoCarryRateLimitHeaders()
    {
        await using var app = await IngressApp.StartAsync(settings: OnePerSecond);
        using var client = app.CreateClient();

        using var response = await IngressApp.PostJsonAsync(client, "/v1/emails", "{}");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal(("2", "1"), Headers(response));
    }

    /// <summary>
    /// The admin routes (<c>/v1/templates</c>, whose test send sends a real email, and <c>/v1/api-keys</c>) were not
    /// limited: a key with a tiny rate could call them without end.
    /// </summary>
    [Fact]
    public async Task TemplatesAndApiKeysAreRateLimitedLikeTheOtherV1Routes()
    {
        await using var app = await IngressApp.StartAsync();
        var (templatesKey, _) = await app.CreateApiKeyAsync(new { name = "templates", scopes = new[] { "admin" }, rate_limit_per_second = 0.01 });
        var (keysKey, _) = await app.CreateApiKeyAsync(new { name = "keys", scopes = new[] { "admin" }, rate_limit_per_second = 0.01 });
        using var templates = app.CreateClient(templatesKey);
        using var keys = app.CreateClient(keysKey);
        var testSend = """{"to": "tester@example.test", "from": "hello@acme.test", "variables": {}}""";

        using var listTemplates = await templates.GetAsync(new Uri("/v1/templates", UriKind.Relative));
        using var templateTest = await IngressApp.PostJsonAsync(templates, "/v1/templates/welcome/test", testSend);
        using var listKeys = await keys.GetAsync(new Uri("/v1/api-keys", UriKind.Relative));
        using var createKey = await IngressApp.PostJsonAsync(keys, "/v1/api-keys", """{"name": "one more"}""");

        Assert.Equal(HttpStatusCode.OK, listTemplates.StatusCode);
        Assert.Equal(HttpStatusCode.OK, listKeys.StatusCode);
        Assert.Equal(("1", "0"), Headers(listTemplates));
        Assert.Equal(("1", "0"), Headers(listKeys));
        foreach (var refused in new[] { templateTest, createKey })
        {
            await ProblemAssert.IsDetailedProblemAsync(refused, HttpStatusCode.TooManyRequests, "rate_limit_exceeded");
            var retryAfter = int.Parse(Assert.Single(refused.Headers.GetValues("Retry-After")), CultureInfo.InvariantCulture);
            Assert.InRange(retryAfter, 1, 100);
        }

        using var bootstrap = app.CreateClient();
        using var all = await bootstrap.GetAsync(new Uri("/v1/api-keys", UriKind.Relative));
        Assert.DoesNotContain("one more", await all.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(0, await app.CountOutboxAsync());
    }

    /// <summary>
    /// An ingress limited to one request a second whose limiter reads <paramref name="clock"/>, which stands still unless
    /// the test moves it. On the real clock the buckets refill while the test makes its requests, a token a second, and
    /// on a loaded machine a few requests can take that long: a request over the burst would be accepted.
    /// </summary>
    private static Task<IngressApp> StartWithFrozenLimiterAsync(ManualClock clock) => IngressApp.StartAsync(
        settings: OnePerSecond,
        services: s => s.AddSingleton(sp => new RateLimitFilter(sp.GetRequiredService<IOptions<RateLimitOptions>>(), clock)));

    private static (string Limit, string Remaining) Headers(HttpResponseMessage response) =>
        (response.Headers.GetValues("RateLimit-Limit").Single(), response.Headers.GetValues("RateLimit-Remaining").Single());
}
