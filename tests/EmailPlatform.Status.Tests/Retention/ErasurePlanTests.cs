using EmailPlatform.Status.Retention;
using EmailPlatform.Status.Tests.Support;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging.Abstractions;

namespace EmailPlatform.Status.Tests.Retention;

/// <summary>
/// Erasure walks the emails that name an address in batches, each after the last email id of the one before. Each batch's
/// selection must start in the index where the last one ended (the address and the email id both in the index's
/// condition): with the address alone there, every batch reads every row of the address again, so that erasing an address
/// copied on hundreds of thousands of emails reads quadratically many rows.
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

        // Three batches of one, and the look that finds nothing more.
        var selections = plans.AllOf("UNION");
        Assert.Equal(4, selections.Count);
        foreach (var plan in selections)
        {
            foreach (var index in new[] { "ix_recipients_address_email_id", "ix_header_addresses_address_email_id" })
            {
                Assert.Matches(
                    provider == "postgres"
                        ? $@"{index} [^\n]*\n\s*Index Cond: \([^\n]*address\)?(::text)? = ANY [^\n]*\) AND \(email_id > "
                        : $@"SEARCH \w+ USING COVERING INDEX {index} \(address=\? AND email_id>\?\)",
                    plan);
            }
        }
    }
}
