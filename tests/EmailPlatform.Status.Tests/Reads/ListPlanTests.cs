using EmailPlatform.Status.Reads;
using EmailPlatform.Status.Tests.Support;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;

namespace EmailPlatform.Status.Tests.Reads;

/// <summary>
/// A page after the first starts where the cursor points, on PostgreSQL: the scan of <c>emails(accepted_at, id)</c> (or
/// <c>(state, accepted_at, id)</c> with a status) has the cursor's time as its start, not only as a filter. Under a filter
/// alone it starts at the newest email and reads every one before the cursor, so that walking a list of tens of millions
/// page by page reads quadratically many rows.
/// </summary>
public sealed class ListPlanTests
{
    [Theory]
    [InlineData(null, "cursor")]
    [InlineData(null, "before")]
    [InlineData("delivered", "cursor")]
    public async Task APageAfterTheFirstStartsItsIndexScanAtTheCursor(string? status, string position)
    {
        await using var store = await StatusStore.PostgresAsync();
        var ids = Enumerable.Range(0, 3).Select(_ => Guid.CreateVersion7()).ToList();
        foreach (var id in ids)
        {
            await store.RecordBatchAsync(TestEvents.Accepted(id, to: ["alice@example.com"]), TestEvents.Delivered(id, "alice@example.com"));
        }

        await using (var db = store.NewContext())
        {
            await db.Database.ExecuteSqlRawAsync("ANALYZE emails");
        }

        string next;
        await using (var db = store.NewContext())
        {
            var first = await ListEmails.HandleAsync(Query(status, limit: "1"), db, CancellationToken.None);
            next = Assert.IsType<Ok<EmailListResponse>>(first.Result).Value!.NextCursor!;
        }

        var plans = new PlanRecorder();
        await using (var db = store.NewContext(plans))
        {
            var query = position == "cursor" ? Query(status, limit: "1") with { Cursor = next } : Query(status, limit: "1") with { Before = ids[0].ToString() };
            var page = Assert.IsType<Ok<EmailListResponse>>((await ListEmails.HandleAsync(query, db, CancellationToken.None)).Result).Value!;
            Assert.Equal(ids[1], Assert.Single(page.Data).Id);
        }

        // The page's query, not the look-up of the email a before= names.
        var plan = Assert.Single(plans.AllOf("ORDER BY"));
        Assert.Matches(@"Index Cond: \([^\n]*accepted_at [<>]= ", plan);
    }

    private static ListEmailsQuery Query(string? status, string limit) =>
        new(status, null, null, null, null, null, null, limit, null, null, null);
}
