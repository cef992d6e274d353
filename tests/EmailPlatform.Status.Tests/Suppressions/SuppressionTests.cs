using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using EmailPlatform.Contracts;
using EmailPlatform.Status.Tests.Support;
using EmailPlatform.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace EmailPlatform.Status.Tests.Suppressions;

/// <summary>The suppression list: automatic on hard bounces, and managed through <c>/v1/suppressions</c>.</summary>
public sealed class SuppressionTests
{
    [Fact]
    public async Task UserUnknownBounceSuppressesTheAddressButAPolicyBounceDoesNot()
    {
        await using var api = await StatusApi.StartAsync();
        var emailId = Guid.NewGuid();
        var unknown = TestEvents.Bounced(emailId, "bob@example.com");
        var policy = TestEvents.Bounced(emailId, "carol@example.com") with { Reply = new SmtpReply(550, "5.7.1", "Message rejected as spam") };
        await api.RecordAsync(TestEvents.Accepted(emailId, to: ["Bob@Example.com", "carol@example.com"]), unknown, policy);
        using var client = api.CreateClient();

        var bob = await GetJsonAsync(client, "/v1/suppressions/BOB@example.com");
        Assert.Equal("suppression", bob.GetProperty("object").GetString());
        Assert.Equal("bob@example.com", bob.GetProperty("email").GetString());
        Assert.Equal("bounce", bob.GetProperty("source").GetString());
        Assert.Equal(unknown.EventId, bob.GetProperty("source_event_id").GetGuid());
        Assert.Equal(emailId, bob.GetProperty("source_email_id").GetGuid());
        Assert.Equal("5.1.1", bob.GetProperty("enhanced_code").GetString());
        Assert.Contains("User unknown", bob.GetProperty("reason").GetString(), StringComparison.Ordinal);

        using var carol = await client.GetAsync(new Uri("/v1/suppressions/carol@example.com", UriKind.Relative));
        await ProblemAssert.IsProblemAsync(carol, HttpStatusCode.NotFound, "not_found");
    }

    [Fact]
    public async Task HardBounceOfAnAddressSuppressedUntilTomorrowSuppressesItForGoodWithTheBounceAsItsSource()
    {
        var clock = new ManualClock(DateTimeOffset.UtcNow);
        await using var api = await StatusApi.StartAsync(services: s => s.AddSingleton<TimeProvider>(clock));
        using var client = api.CreateClient();
        using (var put = await client.PutAsJsonAsync(new Uri("/v1/suppressions/erin@example.com", UriKind.Relative),
            new { reason = "Asked for a pause", expires_at = clock.GetUtcNow().AddDays(1) }))
        {
            Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        }

        using (var put = await client.PutAsJsonAsync(new Uri("/v1/suppressions/frank@example.com", UriKind.Relative), new { reason = "Legal hold" }))
        {
            Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        }

        // Both were sent to anyway (a worker's cached lookup, or the status service out of reach) and bounced as unknown.
        var emailId = Guid.NewGuid();
        var toErin = TestEvents.Bounced(emailId, "erin@example.com");
        await api.RecordAsync(TestEvents.Accepted(emailId, to: ["erin@example.com", "frank@example.com"]), toErin, TestEvents.Bounced(emailId, "frank@example.com"));
        clock.Advance(TimeSpan.FromDays(2));

        var erin = await GetJsonAsync(client, "/v1/suppressions/erin@example.com");
        Assert.Equal(JsonValueKind.Null, erin.GetProperty("expires_at").ValueKind);
        Assert.Equal("bounce", erin.GetProperty("source").GetString());
        Assert.Equal(toErin.EventId, erin.GetProperty("source_event_id").GetGuid());
        Assert.Equal(emailId, erin.GetProperty("source_email_id").GetGuid());
        Assert.Equal("5.1.1", erin.GetProperty("enhanced_code").GetString());
        Assert.Contains("User unknown", erin.GetProperty("reason").GetString(), StringComparison.Ordinal);

        // A suppression that was already for good keeps the reason an administrator gave it.
        var frank = await GetJsonAsync(client, "/v1/suppressions/frank@example.com");
        Assert.Equal(("api", "Legal hold"), (frank.GetProperty("source").GetString(), frank.GetProperty("reason").GetString()));
        Assert.Equal(JsonValueKind.Null, frank.GetProperty("source_event_id").ValueKind);
    }

    [Fact]
    public async Task SuppressionsArePutSearchedPagedImportedExpiredAndDeleted()
    {
        var clock = new ManualClock(DateTimeOffset.UtcNow);
        await using var api = await StatusApi.StartAsync(services: s => s.AddSingleton<TimeProvider>(clock));
        using var client = api.CreateClient();

        using (var put = await client.PutAsJsonAsync(new Uri("/v1/suppressions/Dave@Example.com", UriKind.Relative),
            new { reason = "Asked to stop", expires_at = clock.GetUtcNow().AddDays(1) }))
        {
            Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        }

        using (var import = await client.PostAsJsonAsync(new Uri("/v1/suppressions/import", UriKind.Relative), new object[]
        {
            new { email = "a1@example.org", reason = "legacy list" },
            new { email = "a2@example.org" },
            new { email = "a3@example.org", reason = "legacy list" },
        }))
        {
            Assert.Equal(HttpStatusCode.OK, import.StatusCode);
        }

        var dave = await GetJsonAsync(client, "/v1/suppressions/dave@example.com");
        Assert.Equal(("api", "Asked to stop"), (dave.GetProperty("source").GetString(), dave.GetProperty("reason").GetString()));

        var search = await GetJsonAsync(client, "/v1/suppressions?search=example.org&limit=2");
        Assert.True(search.GetProperty("has_more").GetBoolean());
        Assert.Equal(["a1@example.org", "a2@example.org"], Emails(search));
        var next = await GetJsonAsync(client, "/v1/suppressions?search=example.org&limit=2&after=a2@example.org");
        Assert.Equal(["a3@example.org"], Emails(next));
        Assert.False(next.GetProperty("has_more").GetBoolean());

        clock.Advance(TimeSpan.FromDays(2));
        using (var expired = await client.GetAsync(new Uri("/v1/suppressions/dave@example.com", UriKind.Relative)))
        {
            await ProblemAssert.IsProblemAsync(expired, HttpStatusCode.NotFound, "not_found");
        }

        using (var delete = await client.DeleteAsync(new Uri("/v1/suppressions/a1@example.org", UriKind.Relative)))
        {
            Assert.Equal(HttpStatusCode.NoContent, delete.StatusCode);
        }

        Assert.Equal(["a2@example.org", "a3@example.org"], Emails(await GetJsonAsync(client, "/v1/suppressions")));

        using var invalid = await client.PutAsJsonAsync(new Uri("/v1/suppressions/not-an-address", UriKind.Relative), new { reason = "x" });
        await ProblemAssert.IsValidationProblemAsync(invalid, "validation_error", "address");
        using var badImport = await client.PostAsJsonAsync(new Uri("/v1/suppressions/import", UriKind.Relative), new object[] { new { email = "nope" } });
        await ProblemAssert.IsValidationProblemAsync(badImport, "validation_error", "[0].email");
    }

    [Fact]
    public async Task SearchAndCursorInPunycodeFindTheAddressStoredWithItsDomainInUnicode()
    {
        await using var api = await StatusApi.StartAsync();
        using var client = api.CreateClient();
        foreach (var address in new[] { "bob@xn--bcher-kva.de", "bob@c.de", "bob@y.de" })
        {
            using var put = await client.PutAsJsonAsync(new Uri($"/v1/suppressions/{address}", UriKind.Relative), new { reason = "Asked to stop" });
            Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        }

        Assert.Equal(["bob@bücher.de"], Emails(await GetJsonAsync(client, "/v1/suppressions?search=xn--bcher-kva")));
        Assert.Equal(["bob@bücher.de"], Emails(await GetJsonAsync(client, "/v1/suppressions?search=BOB@XN--BCHER-KVA.DE")));
        Assert.Equal(["bob@bücher.de"], Emails(await GetJsonAsync(client, "/v1/suppressions?search=xn--bcher-kva.de")));
        Assert.Equal(["bob@bücher.de"], Emails(await GetJsonAsync(client, $"/v1/suppressions?search={Uri.EscapeDataString("bücher")}")));

        // A page ends at bob@bücher.de; a client that kept the address as it sent it asks for the next one with that.
        var first = await GetJsonAsync(client, "/v1/suppressions?limit=1");
        Assert.Equal(["bob@bücher.de"], Emails(first));
        Assert.Equal(["bob@c.de", "bob@y.de"], Emails(await GetJsonAsync(client, "/v1/suppressions?after=bob@xn--bcher-kva.de")));
        Assert.Equal(["bob@c.de", "bob@y.de"], Emails(await GetJsonAsync(client, "/v1/suppressions?after=Bob@XN--BCHER-KVA.de")));
    }

    [Fact]
    public async Task BadSuppressionInputIsAProblemNeverA500AndChangesNothing()
    {
        await using var api = await StatusApi.StartAsync();
        using var client = api.CreateClient();

        using (var nullItem = await client.PostAsync(new Uri("/v1/suppressions/import", UriKind.Relative),
            new StringContent("""[{"email": "ok@example.org"}, null]""", System.Text.Encoding.UTF8, "application/json")))
        {
            await ProblemAssert.IsValidationProblemAsync(nullItem, "validation_error", "[1]");
        }

        using (var nulReason = await client.PutAsJsonAsync(new Uri("/v1/suppressions/eve@example.org", UriKind.Relative), new { reason = "a\u0000b" }))
        {
            await ProblemAssert.IsValidationProblemAsync(nulReason, "validation_error", "reason");
        }

        // NUL reaching PostgreSQL in a search (in a path, the server refuses it first): the client's error, not a 500.
        using (var search = await client.GetAsync(new Uri("/v1/suppressions?search=%00", UriKind.Relative)))
        {
            await ProblemAssert.IsDetailedProblemAsync(search, HttpStatusCode.BadRequest, "validation_error");
        }

        Assert.Equal(0, await api.WithStoreAsync(db => db.Suppressions.CountAsync()));
    }

    [Fact]
    public async Task ListLimitOutOfRangeOrNotANumberIsAValidationProblemForTheLimit()
    {
        await using var api = await StatusApi.StartAsync();
        using var client = api.CreateClient();

        foreach (var limit in new[] { "0", "-1", "101", "ten", "1.5", "%2B5", "" })
        {
            using var response = await client.GetAsync(new Uri($"/v1/suppressions?limit={limit}", UriKind.Relative));
            var problem = await ProblemAssert.IsValidationProblemAsync(response, "validation_error", "limit");
            Assert.Contains("1 and 100", problem.GetProperty("errors").GetProperty("limit")[0].GetString(), StringComparison.Ordinal);
        }

        Assert.False((await GetJsonAsync(client, "/v1/suppressions?limit=100")).GetProperty("has_more").GetBoolean());
    }

    [Fact]
    public async Task ConcurrentPutsOfTheSameNewAddressAllSucceedAndLeaveOneSuppression()
    {
        await using var api = await StatusApi.StartAsync();
        using var client = api.CreateClient();

        // Each PUT reads "absent" and inserts: all but one meet the key, and are made again as updates.
        for (var round = 0; round < 5; round++)
        {
            var address = $"race{round}@example.org";
            var responses = await Task.WhenAll(Enumerable.Range(0, 8).Select(i =>
                client.PutAsJsonAsync(new Uri($"/v1/suppressions/{address}", UriKind.Relative), new { reason = $"writer {i}" })));
            foreach (var response in responses)
            {
                Assert.True(response.StatusCode == HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
                response.Dispose();
            }
        }

        Assert.Equal(5, await api.WithStoreAsync(db => db.Suppressions.CountAsync()));
    }

    [Fact]
    public async Task ExpiryInThePastIsRefusedRatherThanStoredAsAnEntryThatIsAlreadyGone()
    {
        var clock = new ManualClock(DateTimeOffset.UtcNow);
        await using var api = await StatusApi.StartAsync(services: s => s.AddSingleton<TimeProvider>(clock));
        using var client = api.CreateClient();

        using (var put = await client.PutAsJsonAsync(new Uri("/v1/suppressions/gina@example.com", UriKind.Relative),
            new { reason = "Asked for a pause", expires_at = clock.GetUtcNow().AddMinutes(-1) }))
        {
            await ProblemAssert.IsValidationProblemAsync(put, "validation_error", "expires_at");
        }

        using (var import = await client.PostAsJsonAsync(new Uri("/v1/suppressions/import", UriKind.Relative), new object[]
        {
            new { email = "hank@example.com", reason = "legacy list" },
            new { email = "ivan@example.com", reason = "legacy list", expires_at = clock.GetUtcNow() },
        }))
        {
            await ProblemAssert.IsValidationProblemAsync(import, "validation_error", "[1].expires_at");
        }

        Assert.Equal(0, await api.WithStoreAsync(db => db.Suppressions.CountAsync()));
    }

    [Fact]
    public async Task ImportNamingAnAddressTwiceKeepsItsLastItemAndCountsTheRowsStored()
    {
        var clock = new ManualClock(DateTimeOffset.UtcNow);
        await using var api = await StatusApi.StartAsync(services: s => s.AddSingleton<TimeProvider>(clock));
        using var client = api.CreateClient();

        using (var import = await client.PostAsJsonAsync(new Uri("/v1/suppressions/import", UriKind.Relative), new object[]
        {
            new { email = "jo@example.org", reason = "first list" },
            new { email = "kim@example.org", reason = "first list" },
            new { email = "Jo@Example.org", reason = "second list", expires_at = clock.GetUtcNow().AddDays(7) },
        }))
        {
            Assert.Equal(HttpStatusCode.OK, import.StatusCode);
            using var json = JsonDocument.Parse(await import.Content.ReadAsStringAsync());
            Assert.Equal(2, json.RootElement.GetProperty("imported").GetInt32());
        }

        var jo = await GetJsonAsync(client, "/v1/suppressions/jo@example.org");
        Assert.Equal("second list", jo.GetProperty("reason").GetString());
        Assert.NotEqual(JsonValueKind.Null, jo.GetProperty("expires_at").ValueKind);
        Assert.Equal(2, await api.WithStoreAsync(db => db.Suppressions.CountAsync()));
    }

    /// <summary>A hard bounce (the address is dead) and a complaint (the recipient wants no more) suppress for good.</summary>
    [Theory]
    [InlineData("bounce", "hard_bounce_suppression")]
    [InlineData("complaint", "complaint_suppression")]
    public async Task AnExpiryNeverLiftsASuppressionForGoodBehindTheOperatorsBack(string source, string problem)
    {
        var clock = new ManualClock(DateTimeOffset.UtcNow);
        await using var api = await StatusApi.StartAsync(services: s => s.AddSingleton<TimeProvider>(clock));
        var emailId = Guid.NewGuid();
        await api.RecordAsync(TestEvents.Accepted(emailId, to: ["bob@example.com"]), source == "bounce"
            ? TestEvents.Bounced(emailId, "bob@example.com")
            : TestEvents.Complained(emailId, "bob@example.com"));
        using var client = api.CreateClient();

        // Giving it an expiry would send to the address again once that passed.
        using (var put = await client.PutAsJsonAsync(new Uri("/v1/suppressions/bob@example.com", UriKind.Relative),
            new { reason = "Pause for a week", expires_at = clock.GetUtcNow().AddDays(7) }))
        {
            await ProblemAssert.IsDetailedProblemAsync(put, HttpStatusCode.Conflict, problem);
        }

        using (var import = await client.PostAsJsonAsync(new Uri("/v1/suppressions/import", UriKind.Relative), new object[]
        {
            new { email = "bob@example.com", reason = "legacy list", expires_at = clock.GetUtcNow().AddDays(7) },
            new { email = "carl@example.com", reason = "legacy list", expires_at = clock.GetUtcNow().AddDays(7) },
        }))
        {
            Assert.Equal(HttpStatusCode.OK, import.StatusCode);
            using var json = JsonDocument.Parse(await import.Content.ReadAsStringAsync());
            Assert.Equal((1, source == "bounce" ? 1 : 0, source == "complaint" ? 1 : 0), (json.RootElement.GetProperty("imported").GetInt32(),
                json.RootElement.GetProperty("kept_hard_bounces").GetInt32(), json.RootElement.GetProperty("kept_complaints").GetInt32()));
        }

        var bob = await GetJsonAsync(client, "/v1/suppressions/bob@example.com");
        Assert.Equal((source, JsonValueKind.Null), (bob.GetProperty("source").GetString(), bob.GetProperty("expires_at").ValueKind));

        // Nor in two steps: a PUT without an expiry changes the reason and leaves the suppression the bounce's or complaint's.
        using (var put = await client.PutAsJsonAsync(new Uri("/v1/suppressions/bob@example.com", UriKind.Relative), new { reason = "Known dead" }))
        {
            Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        }

        bob = await GetJsonAsync(client, "/v1/suppressions/bob@example.com");
        Assert.Equal((source, "Known dead", emailId), (bob.GetProperty("source").GetString(), bob.GetProperty("reason").GetString(),
            bob.GetProperty("source_email_id").GetGuid()));
        using (var put = await client.PutAsJsonAsync(new Uri("/v1/suppressions/bob@example.com", UriKind.Relative),
            new { reason = "Pause for a week", expires_at = clock.GetUtcNow().AddDays(7) }))
        {
            await ProblemAssert.IsDetailedProblemAsync(put, HttpStatusCode.Conflict, problem);
        }

        // Lifted on purpose first, it can be suppressed for a while like any address.
        using (var delete = await client.DeleteAsync(new Uri("/v1/suppressions/bob@example.com", UriKind.Relative)))
        {
            Assert.Equal(HttpStatusCode.NoContent, delete.StatusCode);
        }

        using (var put = await client.PutAsJsonAsync(new Uri("/v1/suppressions/bob@example.com", UriKind.Relative),
            new { reason = "Pause for a week", expires_at = clock.GetUtcNow().AddDays(7) }))
        {
            Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        }
    }

    private static List<string?> Emails(JsonElement list) =>
        [.. list.GetProperty("data").EnumerateArray().Select(s => s.GetProperty("email").GetString())];

    private static async Task<JsonElement> GetJsonAsync(HttpClient client, string path)
    {
        using var response = await client.GetAsync(new Uri(path, UriKind.Relative));
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, body);
        using var json = JsonDocument.Parse(body);
        return json.RootElement.Clone();
    }
}
