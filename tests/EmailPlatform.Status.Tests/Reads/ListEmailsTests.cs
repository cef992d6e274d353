using System.Net;
using System.Text.Json;
using EmailPlatform.Contracts;
using EmailPlatform.Status.Tests.Support;
using EmailPlatform.Testing;

namespace EmailPlatform.Status.Tests.Reads;

/// <summary><c>GET /v1/emails</c> over HTTP on a real PostgreSQL: filters, keyset cursor pages, Resend's after/before.</summary>
public sealed class ListEmailsTests
{
    private static readonly DateTimeOffset Base = new(2026, 3, 1, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task FiltersSelectByStatusRecipientSenderTagMetadataAndCreatedRange()
    {
        await using var api = await StatusApi.StartAsync();
        var receipt = Guid.NewGuid();
        var newsletter = Guid.NewGuid();
        var bounced = Guid.NewGuid();
        await api.RecordAsync(
            TestEvents.Accepted(receipt, to: ["Alice <Alice@Example.com>"]) with { AcceptedAt = Base },
            TestEvents.Delivered(receipt, "alice@example.com"),
            TestEvents.Accepted(newsletter, to: ["bob@example.com"]) with
            {
                AcceptedAt = Base.AddHours(1), From = "News <News@Acme.test>",
                Tags = [new EmailTag("category", "newsletter")], Metadata = new Dictionary<string, string> { ["campaign"] = "spring", ["a=b"] = "c", ["token"] = "x==" },
            },
            TestEvents.Accepted(bounced, to: ["carol@example.com", "alice@example.com"]) with { AcceptedAt = Base.AddHours(2) },
            TestEvents.Bounced(bounced, "carol@example.com"));
        using var client = api.CreateClient();

        Assert.Equal([bounced, newsletter, receipt], await IdsAsync(client, ""));
        Assert.Equal([receipt], await IdsAsync(client, "?status=delivered"));
        Assert.Equal([bounced, newsletter], await IdsAsync(client, "?status=queued")); // Alice still queued on the bounced one
        Assert.Equal([bounced, receipt], await IdsAsync(client, "?recipient=ALICE@example.com"));
        Assert.Equal([newsletter], await IdsAsync(client, "?from=news@acme.test"));
        Assert.Equal([bounced, receipt], await IdsAsync(client, "?from=noreply@acme.test"));
        Assert.Equal([bounced, receipt], await IdsAsync(client, "?tag=category:receipt"));
        Assert.Equal([newsletter], await IdsAsync(client, "?tag=category:newsletter&metadata=campaign=spring"));
        Assert.Equal([bounced, receipt], await IdsAsync(client, "?metadata=order_id=A-1001"));
        Assert.Empty(await IdsAsync(client, "?metadata=order_id=A-1002"));
        // An '=' in a value, and in a key (which the ingress allows): every place the filter could split at is tried.
        Assert.Equal([newsletter], await IdsAsync(client, "?metadata=token=x=="));
        Assert.Equal([newsletter], await IdsAsync(client, "?metadata=a=b=c"));
        Assert.Empty(await IdsAsync(client, "?metadata=a=b=d"));
        Assert.Equal([newsletter], await IdsAsync(client, $"?created_after={Uri.EscapeDataString(Base.AddMinutes(30).ToString("O"))}&created_before={Uri.EscapeDataString(Base.AddMinutes(90).ToString("O"))}"));
        Assert.Equal([bounced], await IdsAsync(client, "?status=queued&recipient=alice@example.com"));

        var list = await GetAsync(client, "?recipient=bob@example.com");
        Assert.Equal("list", list.GetProperty("object").GetString());
        Assert.False(list.GetProperty("has_more").GetBoolean());
        Assert.Equal(JsonValueKind.Null, list.GetProperty("next_cursor").ValueKind);
        var item = Assert.Single(list.GetProperty("data").EnumerateArray());
        Assert.Equal("email", item.GetProperty("object").GetString());
        Assert.Equal("News <News@Acme.test>", item.GetProperty("from").GetString());
        Assert.Equal("queued", item.GetProperty("last_event").GetString());
        Assert.Equal("spring", item.GetProperty("metadata").GetProperty("campaign").GetString());
        Assert.False(item.TryGetProperty("html", out _));
        Assert.False(item.TryGetProperty("events", out _));
    }

    [Fact]
    public async Task SenderFilterFindsAnInternationalDomainWrittenInUnicodeOrPunycode()
    {
        await using var api = await StatusApi.StartAsync();
        var asUnicode = Guid.NewGuid();
        var asPunycode = Guid.NewGuid();
        var other = Guid.NewGuid();
        await api.RecordAsync(
            TestEvents.Accepted(asUnicode, to: ["alice@example.com"]) with { AcceptedAt = Base, From = "Bücher <hello@bücher.de>" },
            TestEvents.Accepted(asPunycode, to: ["alice@example.com"]) with { AcceptedAt = Base.AddHours(1), From = "Hello@XN--BCHER-KVA.DE" },
            TestEvents.Accepted(other, to: ["alice@example.com"]) with { AcceptedAt = Base.AddHours(2), From = "hello@buecher.de" });
        using var client = api.CreateClient();

        foreach (var from in new[] { "hello@xn--bcher-kva.de", "HELLO@XN--BCHER-KVA.DE", "hello@bücher.de", "Hello@BÜCHER.de" })
        {
            Assert.Equal([asPunycode, asUnicode], await IdsAsync(client, "?from=" + Uri.EscapeDataString(from)));
        }

        Assert.Equal([other], await IdsAsync(client, "?from=hello@buecher.de"));
    }

    [Fact]
    public async Task CursorPagesUnderConcurrentInsertsHaveNoDuplicatesAndNoGaps()
    {
        await using var api = await StatusApi.StartAsync();
        var existing = new List<Guid>();
        for (var i = 0; i < 30; i++)
        {
            var id = Guid.NewGuid();
            existing.Add(id);

            // Pairs share a created_at, so the id must break the tie.
            await api.RecordAsync(TestEvents.Accepted(id, to: ["alice@example.com"]) with { AcceptedAt = Base.AddMinutes(i / 2) });
        }

        using var client = api.CreateClient();
        using var stop = new CancellationTokenSource();
        var inserted = new List<Guid>();
        var writer = Task.Run(async () =>
        {
            var n = 0;
            while (!stop.IsCancellationRequested)
            {
                var id = Guid.NewGuid();
                // New emails land both before and inside the range already paged through.
                var at = n++ % 2 == 0 ? DateTimeOffset.UtcNow : Base.AddMinutes(7).AddSeconds(n);
                await api.RecordAsync(TestEvents.Accepted(id, to: ["alice@example.com"]) with { AcceptedAt = at });
                lock (inserted)
                {
                    inserted.Add(id);
                }
            }
        });

        var seen = new List<Guid>();
        string? cursor = null;
        var pages = 0;
        do
        {
            var page = await GetAsync(client, "?limit=7" + (cursor is null ? "" : "&cursor=" + cursor));
            seen.AddRange(page.GetProperty("data").EnumerateArray().Select(e => e.GetProperty("id").GetGuid()));
            cursor = page.GetProperty("next_cursor").GetString();
            Assert.Equal(cursor is not null, page.GetProperty("has_more").GetBoolean());
            pages++;
            await Task.Delay(50);
        }
        while (cursor is not null && pages < 100);

        await stop.CancelAsync();
        await writer;
        Assert.NotEmpty(inserted);
        Assert.Equal(seen.Count, seen.Distinct().Count());
        Assert.All(existing, id => Assert.Contains(id, seen));
    }

    [Fact]
    public async Task AfterAndBeforeTakeEmailIdsAsResendsClientsSendThem()
    {
        await using var api = await StatusApi.StartAsync();
        var ids = new List<Guid>();
        for (var i = 0; i < 5; i++)
        {
            var id = Guid.NewGuid();
            ids.Insert(0, id);
            await api.RecordAsync(TestEvents.Accepted(id, to: ["alice@example.com"]) with { AcceptedAt = Base.AddMinutes(i) });
        }

        using var client = api.CreateClient();

        // Newest first: ids[0] is the newest.
        Assert.Equal(ids[..2], await IdsAsync(client, "?limit=2"));
        Assert.Equal(ids[2..4], await IdsAsync(client, $"?limit=2&after={ids[1]}"));
        Assert.Equal(ids[1..3], await IdsAsync(client, $"?limit=2&before={ids[3]}"));
        var newest = await GetAsync(client, $"?limit=2&before={ids[2]}");
        Assert.False(newest.GetProperty("has_more").GetBoolean());
    }

    [Fact]
    public async Task InvalidParametersAreValidationProblems()
    {
        await using var api = await StatusApi.StartAsync();
        using var client = api.CreateClient();

        foreach (var (query, field) in new[]
        {
            ("?limit=101", "limit"), ("?limit=0", "limit"), ("?status=opened", "status"), ("?cursor=nonsense", "cursor"),
            ("?tag=nocolon", "tag"), ("?metadata=noequals", "metadata"), ("?created_after=yesterday", "created_after"),
            ($"?after={Guid.NewGuid()}", "after"), ($"?after={Guid.NewGuid()}&before={Guid.NewGuid()}", "before"),
            ($"?cursor=nonsense&after={Guid.NewGuid()}", "after"),
            // Values that can be no stored address, which matched nothing (200, an empty list) before.
            ("?recipient=alice@example.com,bob@example.com", "recipient"), ("?from=acme.test", "from"),
        })
        {
            using var response = await client.GetAsync(new Uri("/v1/emails" + query, UriKind.Relative));
            await ProblemAssert.IsValidationProblemAsync(response, "validation_error", field);
        }

        // A '+' written as it is reads as a space: the problem says how to write it.
        using (var plus = await client.GetAsync(new Uri("/v1/emails?recipient=alice+news@example.com", UriKind.Relative)))
        {
            var problem = await ProblemAssert.IsValidationProblemAsync(plus, "validation_error", "recipient");
            Assert.Contains("%2B", problem.GetProperty("errors").GetProperty("recipient")[0].GetString(), StringComparison.Ordinal);
        }

        using (var encoded = await client.GetAsync(new Uri("/v1/emails?recipient=alice%2Bnews@example.com", UriKind.Relative)))
        {
            Assert.Equal(HttpStatusCode.OK, encoded.StatusCode);
        }

        // NUL goes as far as PostgreSQL, which refuses it in text: the client's error, not a 500.
        foreach (var query in new[] { "?recipient=a%00@example.com", "?from=a%00b@acme.test", "?tag=a:%00", "?metadata=k=%00" })
        {
            using var response = await client.GetAsync(new Uri("/v1/emails" + query, UriKind.Relative));
            await ProblemAssert.IsDetailedProblemAsync(response, HttpStatusCode.BadRequest, "validation_error");
        }
    }

    [Fact]
    public async Task StatusIsOneStateByItsNameNeverAListANumberOrAPaddedName()
    {
        await using var api = await StatusApi.StartAsync();
        var deferred = Guid.NewGuid();
        await api.RecordAsync(TestEvents.Accepted(deferred, to: ["alice@example.com"]), TestEvents.Deferred(deferred, "alice@example.com"));
        using var client = api.CreateClient();

        Assert.Equal([deferred], await IdsAsync(client, "?status=Deferred"));
        Assert.Equal([deferred], await IdsAsync(client, "?status=delivery_delayed"));

        // Enum parsing would read "queued,sending" as queued|sending (= deferred), " 1" as queued and "-1" as no state at all.
        foreach (var status in new[] { "queued,sending", "%201", "-1", "3", "deferred%20", "delivered,bounced" })
        {
            using var response = await client.GetAsync(new Uri("/v1/emails?status=" + status, UriKind.Relative));
            var problem = await ProblemAssert.IsValidationProblemAsync(response, "validation_error", "status");
            Assert.Contains("scheduled, queued, sending, deferred", problem.GetProperty("errors").GetProperty("status")[0].GetString(), StringComparison.Ordinal);
        }
    }

    private static async Task<JsonElement> GetAsync(HttpClient client, string query)
    {
        using var response = await client.GetAsync(new Uri("/v1/emails" + query, UriKind.Relative));
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, body);
        using var json = JsonDocument.Parse(body);
        return json.RootElement.Clone();
    }

    private static async Task<List<Guid>> IdsAsync(HttpClient client, string query) =>
        [.. (await GetAsync(client, query)).GetProperty("data").EnumerateArray().Select(e => e.GetProperty("id").GetGuid())];
}
