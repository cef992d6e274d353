using EmailPlatform.Status.Reads;
using EmailPlatform.Status.Tests.Support;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;

namespace EmailPlatform.Status.Tests.Reads;

/// <summary>
/// <c>GET /v1/emails/{id}</c> reads the email with its recipients, then its timeline: both come from one snapshot, so a
/// batch the recorder commits in between never shows an event whose effect on its recipient is missing.
/// </summary>
public sealed class EmailReadSnapshotTests
{
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task EmailAndTimelineAgreeWhenAnOutcomeIsCommittedBetweenTheirQueries(bool postgres)
    {
        await using var store = postgres ? await StatusStore.PostgresAsync() : await StatusStore.SqliteAsync();
        if (!postgres)
        {
            // As the standalone host runs it (StoreExtensions): in WAL mode a reader never blocks the writer.
            await using var wal = store.NewContext();
            await wal.Database.ExecuteSqlRawAsync("PRAGMA journal_mode=WAL;");
        }

        var emailId = Guid.NewGuid();
        await store.RecordAsync(TestEvents.Accepted(emailId, to: ["alice@example.com"]));
        var between = new AfterFirstQuery(() => store.RecordAsync(TestEvents.Delivered(emailId, "alice@example.com")));
        await using var db = store.NewContext(between);

        var result = await EmailsEndpoints.GetAsync(emailId.ToString(), db, null, new DefaultHttpContext().Response, CancellationToken.None);

        Assert.True(between.Ran, "nothing was committed between the two queries");
        var email = Assert.IsType<Ok<EmailResponse>>(result.Result).Value!;
        var alice = Assert.Single(email.Recipients);
        var delivered = email.Events.Any(e => e.Type == "email.delivered");
        Assert.True(alice.Status == "delivered" == delivered, $"recipient {alice.Status}, delivered event shown: {delivered}");
        // The read's snapshot is the one before the commit; a read after it sees both.
        Assert.Equal("queued", alice.Status);
        await using var later = store.NewContext();
        var after = Assert.IsType<Ok<EmailResponse>>((await EmailsEndpoints.GetAsync(emailId.ToString(), later, null, new DefaultHttpContext().Response, CancellationToken.None)).Result).Value!;
        Assert.Equal("delivered", Assert.Single(after.Recipients).Status);
        Assert.Contains(after.Events, e => e.Type == "email.delivered");
    }
}
