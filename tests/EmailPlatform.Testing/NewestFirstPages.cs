using System.Net;
using System.Text.Json;
using Xunit;

namespace EmailPlatform.Testing;

/// <summary>
/// What a list paged newest first (<c>limit</c>, <c>after</c>, <c>before</c>, <c>has_more</c>, as Resend's lists) must
/// do, asserted through HTTP on a list whose items are known.
/// </summary>
public static class NewestFirstPages
{
    /// <summary>
    /// Pages through <paramref name="path"/> two at a time with <c>after</c>, then back with <c>before</c>, and checks
    /// that the pages hold exactly <paramref name="newestFirst"/> in that order with <c>has_more</c> right on each; that
    /// with no limit all of them (fewer than the default 20) come in one page; and that a bad limit, both cursors at
    /// once and a cursor that is not the id of an item of the list (<paramref name="notListed"/>, say a deleted one)
    /// are refused as validation problems naming the parameter.
    /// </summary>
    public static async Task AssertAsync(HttpClient client, string path, IReadOnlyList<Guid> newestFirst, Guid notListed)
    {
        Assert.True(newestFirst.Count is >= 3 and < 20, "needs 3 to 19 items: several pages of 2, and one default page");
        var (all, allHasMore) = await PageAsync(client, path);
        Assert.Equal(newestFirst, all);
        Assert.False(allHasMore);

        var forward = new List<List<Guid>>();
        string? after = null;
        while (true)
        {
            var (page, hasMore) = await PageAsync(client, $"{path}?limit=2{(after is null ? "" : $"&after={after}")}");
            forward.Add(page);
            Assert.Equal(forward.Sum(p => p.Count) < newestFirst.Count, hasMore);
            if (!hasMore)
            {
                break;
            }

            after = page[^1].ToString();
        }

        Assert.Equal(newestFirst, forward.SelectMany(p => p));
        Assert.All(forward.SkipLast(1), p => Assert.Equal(2, p.Count));

        // Back from the last page: each page before is the one just newer, still newest first.
        for (var i = forward.Count - 1; i > 0; i--)
        {
            var (page, hasMore) = await PageAsync(client, $"{path}?limit=2&before={forward[i][0]}");
            Assert.Equal(forward[i - 1], page);
            Assert.Equal(i - 1 > 0, hasMore);
        }

        foreach (var limit in new[] { "0", "101", "-1", "two", "2.5" })
        {
            using var refused = await client.GetAsync(new Uri($"{path}?limit={limit}", UriKind.Relative));
            await ProblemAssert.IsValidationProblemAsync(refused, "validation_error", "limit");
        }

        using (var both = await client.GetAsync(new Uri($"{path}?after={newestFirst[0]}&before={newestFirst[^1]}", UriKind.Relative)))
        {
            await ProblemAssert.IsValidationProblemAsync(both, "validation_error", "before");
        }

        foreach (var (name, cursor) in new[] { ("after", notListed.ToString()), ("before", notListed.ToString()), ("after", "not-an-id") })
        {
            using var refused = await client.GetAsync(new Uri($"{path}?{name}={cursor}", UriKind.Relative));
            await ProblemAssert.IsValidationProblemAsync(refused, "validation_error", name);
        }
    }

    private static async Task<(List<Guid> Ids, bool HasMore)> PageAsync(HttpClient client, string pathAndQuery)
    {
        using var response = await client.GetAsync(new Uri(pathAndQuery, UriKind.Relative));
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"GET {pathAndQuery}: {(int)response.StatusCode} {text}");
        using var json = JsonDocument.Parse(text);
        Assert.Equal("list", json.RootElement.GetProperty("object").GetString());
        return ([.. json.RootElement.GetProperty("data").EnumerateArray().Select(e => e.GetProperty("id").GetGuid())],
            json.RootElement.GetProperty("has_more").GetBoolean());
    }
}
