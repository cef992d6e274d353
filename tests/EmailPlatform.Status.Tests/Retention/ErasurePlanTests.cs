using EmailPlatform.Status.Retention;
using EmailPlatform.Status.Tests.Support;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging.Abstractions;

namespace EmailPlatform.Status.Tests.Retention;

/// <summary>
/// Erasure walks the emails that name an address in batches, each after the last email id of the one before. Each batch's
/// looks must read the next entries of an index where the last one ended (the address and the email id both in the
/// index's condition, in its order, with a limit): with the address alone there, or with the looks of every form and
/// table sorted together, every batch reads every remaining row of the address, so that erasing an address copied on
/// hundreds of thousands of emails reads quadratically many rows.
/// </summary>
public sealed class ErasurePlanTests
{
    private const string Alice = "alice@example.com";

    [Theory]
    [InlineData("postgres")]
    [InlineData("sqlite")]
    public async Task EachBatchStartsItsIndexScansAfterTheLastEmailOfTheBatchBefore(string provider)
    {
        await using var store = provider == "postgres" ? await StatusStore.PostgresAsync() : await StatusStore.SqliteAsync();
        foreach (var _ in Enumerable.Range(0, 3))
        {
            var id = Guid.CreateVersion7();
            await store.RecordBatchAsync(TestEvents.Accepted(id, to: [Alice], cc: [Alice]), TestEvents.Delivered(id, Alice));
        }

        // Recipients and header addresses of others, in emails after Alice's: the address, not the email id, is what
        // singles out hers, as in a store of many addresses.
        string[] others = [.. Enumerable.Range(0, 2_000).Select(i => $"user{i}@example.org")];
        await store.RecordAsync(TestEvents.Accepted(Guid.CreateVersion7(), to: others));
        await store.RecordAsync(TestEvents.Accepted(Guid.CreateVersion7(), to: others) with { Recipients = [others[0]] });
        if (provider == "postgres")
        {
            await using var analyze = store.NewContext();
            await analyze.Database.ExecuteSqlRawAsync("ANALYZE recipients; ANALYZE header_addresses");
        }

        var plans = new PlanRecorder();
        await using (var db = store.NewContext(plans))
        {
            var result = await RecipientErasure.EraseInBatchesAsync(
                Alice, new DefaultHttpContext(), db, TimeProvider.System, NullLogger<ErasureResponse>.Instance, batchSize: 1, CancellationToken.None);
            Assert.Equal(3, Assert.IsType<Ok<ErasureResponse>>(result.Result).Value!.Emails);
        }

        // Three batches of one, and the look that finds nothing more: each with a look per stored form and table.
        var looks = plans.AllOf(provider == "postgres" ? "email_id > " : "email_id\" > ");
        Assert.Equal(4 * 3, looks.Count);
        foreach (var plan in looks)
        {
            // The next entry of the index after the cursor, no more: no sort of every remaining row of the address.
            Assert.DoesNotContain(provider == "postgres" ? "Sort" : "TEMP B-TREE", plan, StringComparison.Ordinal);
            Assert.Matches(
                provider == "postgres"
                    ? @"Limit [^\n]*\n\s*->  Index (Only )?Scan using ix_(recipients|header_addresses)_address_email_id [^\n]*\n\s*Index Cond: \(\(address[^\n]*= [^\n]*\) AND \(email_id > "
                    : @"SEARCH \w+ USING COVERING INDEX ix_(recipients|header_addresses)_address_email_id \(address=\? AND email_id>\?\)",
                plan);
        }
    }
}
