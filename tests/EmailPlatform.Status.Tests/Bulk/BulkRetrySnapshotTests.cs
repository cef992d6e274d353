using EmailPlatform.Contracts;
using EmailPlatform.Status.Bulk;
using EmailPlatform.Status.Tests.Support;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace EmailPlatform.Status.Tests.Bulk;

/// <summary>
/// A bulk retry reads the page of emails, then their recipients to retry: both come from one snapshot, so an outcome
/// recorded in between never leaves an email in the answer (and a command on the bus) with no recipient to retry.
/// </summary>
public sealed class BulkRetrySnapshotTests
{
    private const string Alice = "alice@example.com";

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task RetryTouchesWhatItCountsWhenAnOutcomeIsCommittedBetweenItsQueries(bool postgres)
    {
        await using var store = postgres ? await StatusStore.PostgresAsync() : await StatusStore.SqliteAsync();
        if (!postgres)
        {
            // As the standalone host runs it (StoreExtensions): in WAL mode a reader never blocks the writer.
            await using var wal = store.NewContext();
            await wal.Database.ExecuteSqlRawAsync("PRAGMA journal_mode=WAL;");
        }

        var emailId = Guid.NewGuid();
        await store.RecordAsync(TestEvents.Accepted(emailId, to: [Alice]));
        await store.RecordAsync(TestEvents.Deferred(emailId, Alice, nextAttemptAt: DateTimeOffset.UtcNow.AddMinutes(5)));
        var between = new AfterFirstQuery(() => store.RecordAsync(TestEvents.Delivered(emailId, Alice, attempt: 2)));
        await using var db = store.NewContext(between);

        var result = await BulkEndpoints.RetryAsync(
            new BulkRequest(null, DryRun: false, null), new DefaultHttpContext(), db, new BulkCommandSignal(), Options.Create(new BulkOptions()),
            TimeProvider.System, CancellationToken.None);

        Assert.True(between.Ran, "nothing was committed between the queries");
        var answer = Assert.IsType<Ok<BulkResponse>>(result.Result).Value!;
        Assert.All(answer.Data, item => Assert.NotEmpty(item.Recipients));
        Assert.Equal((answer.Data.Count, answer.Data.Sum(i => i.Recipients.Count)), (answer.Emails, answer.Recipients));
        await using var check = store.NewContext();
        var commands = (await check.BulkCommands.AsNoTracking().ToListAsync())
            .SelectMany(row => BulkCommands.Read(row).Commands).Cast<RetryRecipients>().ToList();
        Assert.Equal(answer.Emails, commands.Count);
        Assert.All(commands, c => Assert.NotEmpty(c.Recipients));
    }
}
