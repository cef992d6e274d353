using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using EmailPlatform.ServiceDefaults.Suppressions;
using EmailPlatform.Status.Tests.Support;
using EmailPlatform.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace EmailPlatform.Status.Tests.Suppressions;

/// <summary><c>GET /v1/suppressions/filter</c>, on PostgreSQL: what the delivery workers download instead of asking about every address.</summary>
public sealed class SuppressionFilterEndpointTests
{
    [Fact]
    public async Task TheFilterHoldsEverySuppressionInEffectAndNoneThatExpiredOrWasLifted()
    {
        var clock = new ManualClock(DateTimeOffset.UtcNow);
        await using var api = await StatusApi.StartAsync(services: s => s.AddSingleton<TimeProvider>(clock));
        using var client = api.CreateClient();
        await PutAsync(client, "Bob@Example.com", expiresAt: null);
        await PutAsync(client, "paused@example.com", clock.GetUtcNow().AddHours(1));
        await PutAsync(client, "lifted@example.com", expiresAt: null);
        await PutAsync(client, "jörg@xn--bcher-kva.example", expiresAt: null);
        (await client.DeleteAsync(new Uri("/v1/suppressions/lifted@example.com", UriKind.Relative))).Dispose();

        var before = await GetFilterAsync(client);
        clock.Advance(TimeSpan.FromHours(2));
        var after = await GetFilterAsync(client, "1");

        Assert.Equal(3, before.Filter.Count);
        Assert.True(before.Filter.MightContain("bob@example.com"));
        Assert.True(before.Filter.MightContain("paused@example.com"));
        Assert.True(before.Filter.MightContain("jörg@bücher.example")); // the form AddressKeys stores and the workers look up
        Assert.False(before.Filter.MightContain("lifted@example.com"));
        Assert.Equal(2, after.Filter.Count);
        Assert.False(after.Filter.MightContain("paused@example.com"));
        Assert.True(after.Filter.MightContain("bob@example.com"));
    }

    [Fact]
    public async Task AFilterIsBuiltAgainOnlyOnceOlderThanTheCallerTakesAndSaysHowOldItIs()
    {
        var clock = new ManualClock(DateTimeOffset.UtcNow);
        await using var api = await StatusApi.StartAsync(services: s => s.AddSingleton<TimeProvider>(clock));
        using var client = api.CreateClient();
        var first = await GetFilterAsync(client, "15");
        await PutAsync(client, "new@example.com", expiresAt: null);
        clock.Advance(TimeSpan.FromSeconds(10));

        var cached = await GetFilterAsync(client, "15");
        clock.Advance(TimeSpan.FromSeconds(6));
        var rebuilt = await GetFilterAsync(client, "15");

        Assert.Equal((0L, 0L), (first.Filter.Count, first.AgeMs));
        Assert.Equal((0L, 10_000L, first.ETag), (cached.Filter.Count, cached.AgeMs, cached.ETag));
        Assert.Equal((1L, 0L), (rebuilt.Filter.Count, rebuilt.AgeMs));
        Assert.NotEqual(first.ETag, rebuilt.ETag);
        Assert.True(rebuilt.Filter.MightContain("new@example.com"));
    }

    [Fact]
    public async Task AnUnchangedFilterIsNotModifiedForItsEntityTag()
    {
        var clock = new ManualClock(DateTimeOffset.UtcNow);
        await using var api = await StatusApi.StartAsync(services: s => s.AddSingleton<TimeProvider>(clock));
        using var client = api.CreateClient();
        await PutAsync(client, "bob@example.com", expiresAt: null);
        var first = await GetFilterAsync(client);
        clock.Advance(TimeSpan.FromSeconds(30));

        using var request = new HttpRequestMessage(HttpMethod.Get, "/v1/suppressions/filter?max_age=1");
        request.Headers.IfNoneMatch.Add(EntityTagHeaderValue.Parse(first.ETag));
        using var response = await client.SendAsync(request);

        // Built again (the first was 30 s old), to the same bits: no body, and the age of the new build.
        Assert.Equal(HttpStatusCode.NotModified, response.StatusCode);
        Assert.Empty(await response.Content.ReadAsByteArrayAsync());
        Assert.Equal("0", Assert.Single(response.Headers.GetValues("Suppression-Filter-Age")));
        Assert.Equal(first.ETag, response.Headers.ETag?.ToString());
    }

    [Theory]
    [InlineData("0")]
    [InlineData("3601")]
    [InlineData("-1")]
    [InlineData("1.5")]
    [InlineData("soon")]
    public async Task AMaxAgeThatIsNotWholeSecondsFromOneToAnHourIsAProblem(string maxAge)
    {
        await using var api = await StatusApi.StartAsync();
        using var client = api.CreateClient();

        using var response = await client.GetAsync(new Uri($"/v1/suppressions/filter?max_age={Uri.EscapeDataString(maxAge)}", UriKind.Relative));

        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.BadRequest, "validation_error");
        Assert.True(problem.GetProperty("errors").TryGetProperty("max_age", out _));
    }

    [Fact]
    public async Task TheFilterNeedsAKey()
    {
        await using var api = await StatusApi.StartAsync();
        using var anonymous = api.Factory.CreateClient();

        using var response = await anonymous.GetAsync(new Uri("/v1/suppressions/filter", UriKind.Relative));

        await ProblemAssert.IsProblemAsync(response, HttpStatusCode.Unauthorized, "missing_api_key");
    }

    private static async Task PutAsync(HttpClient client, string address, DateTimeOffset? expiresAt)
    {
        using var put = await client.PutAsJsonAsync(new Uri($"/v1/suppressions/{Uri.EscapeDataString(address)}", UriKind.Relative),
            new { reason = "Test", expires_at = expiresAt });
        Assert.Equal(HttpStatusCode.OK, put.StatusCode);
    }

    private static async Task<(SuppressionFilter Filter, long AgeMs, string ETag)> GetFilterAsync(HttpClient client, string? maxAge = null)
    {
        using var response = await client.GetAsync(new Uri("/v1/suppressions/filter" + (maxAge is null ? "" : $"?max_age={maxAge}"), UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(SuppressionFilter.MediaType, response.Content.Headers.ContentType?.MediaType);
        var filter = SuppressionFilter.Read(await response.Content.ReadAsByteArrayAsync());
        Assert.NotNull(filter);
        var age = long.Parse(Assert.Single(response.Headers.GetValues("Suppression-Filter-Age")), CultureInfo.InvariantCulture);
        return (filter, age, response.Headers.ETag!.ToString());
    }
}
