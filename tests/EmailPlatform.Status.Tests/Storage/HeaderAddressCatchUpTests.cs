using EmailPlatform.ServiceDefaults.Addresses;
using EmailPlatform.Status.Retention;
using EmailPlatform.Status.Storage;
using EmailPlatform.Status.Tests.Support;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace EmailPlatform.Status.Tests.Storage;

/// <summary>
/// <see cref="HeaderAddressCatchUp"/>: the <c>header_addresses</c> rows of emails that the <c>HeaderAddresses</c>
/// migration read in SQL, or that a status service of an earlier version recorded without any, written with MimeKit as
/// the recorder writes them, so that an erasure finds those emails.
/// </summary>
public sealed class HeaderAddressCatchUpTests
{
    private const string Alice = "alice@example.com";
    private const string Bob = "bob@example.com";
    private const string Carol = "carol@example.com";
    private const string Dave = "dave@example.com";
    private const string Erin = "erin@example.com";
    private const string Zoe = "zoe@example.com";

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task CatchUpWritesTheHeaderAddressesThatTheSqlBackfillAndAnEarlierRecorderMissedAndErasureThenFindsThem(bool sqlite)
    {
        await using var store = sqlite ? await StatusStore.SqliteAsync("BulkCommands") : await StatusStore.PostgresAsync("BulkCommands");
        var (beforeMigration, earlierRecorder, recorded, detailsToCome) = (Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid());
        await using (var db = store.NewEarlierContext())
        {
            // Shapes the migration's SQL misreads: a quoted name holding <…> (it takes help@), a comment with a comma
            // (it keeps "(dave"), capitals outside ASCII (SQLite's lower() leaves them).
            db.Emails.Add(NewEmail(beforeMigration,
                to: [$"\"Support <help@example.com>\" <{Alice}>"], cc: [$"{Dave} (Dave, sales)"], replyTo: ["Jörg <JÖRG@BÜCHER.de>"], recipients: [Carol]));
            await db.SaveChangesAsync();
        }

        await store.MigrateAsync();

        await using (var db = store.NewEarlierContext())
        {
            // Recorded after the migration by a replica of the earlier version: no rows at all. A group, an encoded-word
            // display name and a non-ASCII address.
            db.Emails.Add(NewEmail(earlierRecorder,
                to: [$"Friends: Erin <{Erin}>, \"Smith, Bob\" <Bob@Example.com>;"], cc: [$"=?utf-8?q?Zo=C3=AB_M=C3=BCller?= <{Zoe}>"],
                replyTo: ["=?utf-8?b?w4RyZ2Vy?= <Ärger@Example.com>"], recipients: [Bob]));
            await db.SaveChangesAsync();
        }

        await store.RecordAsync(TestEvents.Accepted(recorded, to: [Bob], replyTo: ["Frank <frank@example.com>"]));
        await store.RecordAsync(TestEvents.Delivered(detailsToCome, Bob));
        Assert.Equal(0, (await EraseAsync(store, Erin)).Emails);

        var first = await CatchUpAsync(store);

        // Whether PostgreSQL's lower() folded the Ö and Ü depends on the database's locale: the rest is certain.
        Assert.Equal(2, first.Emails);
        Assert.InRange(first.Added, 5, 6);
        Assert.InRange(first.Removed, 2, 3);
        Assert.Equal([Alice, Dave, "jörg@bücher.de"], await HeaderAddressesAsync(store, beforeMigration));
        Assert.Equal([Erin, Zoe, "ärger@example.com"], await HeaderAddressesAsync(store, earlierRecorder));
        Assert.Equal(["frank@example.com"], await HeaderAddressesAsync(store, recorded));
        Assert.Empty(await HeaderAddressesAsync(store, detailsToCome));

        Assert.Equal(new HeaderAddressCatchUpResult(0, 0, 0), await CatchUpAsync(store));

        foreach (var (address, emailId) in new[]
        {
            (Alice, beforeMigration), ("Jörg@Bücher.de", beforeMigration), (Erin, earlierRecorder), (Zoe, earlierRecorder), ("ÄRGER@EXAMPLE.COM", earlierRecorder),
        })
        {
            Assert.Equal(1, (await EraseAsync(store, address)).Emails);
            var email = await store.EmailAsync(emailId);
            Assert.DoesNotContain(AddressKeys.Of(address), string.Join(" ", email.To.Concat(email.Cc).Concat(email.ReplyTo)).ToLowerInvariant(), StringComparison.Ordinal);
            Assert.Null(email.Html);
        }

        Assert.Equal([Dave], await HeaderAddressesAsync(store, beforeMigration));
        Assert.Empty(await HeaderAddressesAsync(store, earlierRecorder));
        var erased = await store.EmailAsync(earlierRecorder);
        Assert.Equal([$"Friends: {RecipientErasure.PlaceholderFor(Erin)}, \"Smith, Bob\" <Bob@Example.com>;"], erased.To);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task TwoCatchUpsRunningAtOnceShareTheEmailsAndTheNextFindsNothing(bool sqlite)
    {
        await using var store = sqlite ? await StatusStore.SqliteAsync() : await StatusStore.PostgresAsync();
        var ids = Enumerable.Range(0, 60).Select(_ => Guid.NewGuid()).ToList();
        await using (var db = store.NewEarlierContext())
        {
            foreach (var (id, i) in ids.Select((id, i) => (id, i)))
            {
                db.Emails.Add(NewEmail(id, to: [$"Team: member{i}@example.com, {Bob};"], cc: [], replyTo: [$"Help <help{i}@example.com>"], recipients: [Bob]));
            }

            await db.SaveChangesAsync();
        }

        var runs = await Task.WhenAll(CatchUpAsync(store, batchSize: 7), CatchUpAsync(store, batchSize: 7));

        Assert.Equal((60, 120), (runs.Sum(r => r.Emails), runs.Sum(r => r.Added)));
        await using (var db = store.NewContext())
        {
            Assert.Equal(120, await db.HeaderAddresses.CountAsync());
            Assert.Equal(60, await db.Emails.CountAsync(e => e.HeaderAddressesRecorded));
        }

        Assert.Equal(new HeaderAddressCatchUpResult(0, 0, 0), await CatchUpAsync(store));
    }

    [Fact]
    public async Task TheServiceCatchesUpInTheBackground()
    {
        await using var api = await StatusApi.StartAsync(new Dictionary<string, string> { ["Status:HeaderAddressCatchUp:Interval"] = "00:00:00.100" });
        var emailId = Guid.NewGuid();
        await api.WithStoreAsync(db =>
        {
            db.Emails.Add(NewEmail(emailId, to: [Bob], cc: [], replyTo: [$"Alice <{Alice}>"], recipients: [Bob]));
            return db.SaveChangesAsync();
        });

        var deadline = DateTime.UtcNow.AddSeconds(30);
        List<string> rows;
        while ((rows = await api.WithStoreAsync(db => db.HeaderAddresses.Where(h => h.EmailId == emailId).Select(h => h.Address).ToListAsync())).Count == 0
            && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100);
        }

        Assert.Equal([Alice], rows);
    }

    private static EmailRecord NewEmail(Guid id, List<string> to, List<string> cc, List<string> replyTo, string[] recipients) => new()
    {
        Id = id, AcceptedAt = DateTime.UtcNow, UpdatedAt = DateTime.UtcNow, Html = "<p>Hello</p>", To = to, Cc = cc, ReplyTo = replyTo,
        Recipients = [.. recipients.Select(r => new RecipientRecord { Address = r, Kind = "to", UpdatedAt = DateTime.UtcNow })],
    };

    private static async Task<HeaderAddressCatchUpResult> CatchUpAsync(StatusStore store, int batchSize = 500)
    {
        await using var db = store.NewContext();
        return await new HeaderAddressCatchUp(db, Options.Create(new HeaderAddressCatchUpOptions { BatchSize = batchSize })).RunAsync(CancellationToken.None);
    }

    private static async Task<List<string>> HeaderAddressesAsync(StatusStore store, Guid emailId)
    {
        await using var db = store.NewContext();
        return [.. (await db.HeaderAddresses.Where(h => h.EmailId == emailId).Select(h => h.Address).ToListAsync()).Order(StringComparer.Ordinal)];
    }

    private static async Task<ErasureResponse> EraseAsync(StatusStore store, string address)
    {
        await using var db = store.NewContext();
        var result = await RecipientErasure.EraseAsync(
            address, new DefaultHttpContext(), db, TimeProvider.System, NullLogger<ErasureResponse>.Instance, CancellationToken.None);
        return Assert.IsType<Ok<ErasureResponse>>(result.Result).Value!;
    }
}
