using EmailPlatform.Contracts;
using EmailPlatform.Status.Storage;
using EmailPlatform.Status.Tests.Support;
using Microsoft.EntityFrameworkCore;

namespace EmailPlatform.Status.Tests.Storage;

/// <summary>
/// The emails' bodies stay in the store where nothing needs them (<see cref="StatusDbContext.EmailsWithoutBodies"/>): the
/// recorder reads a batch's emails for every status update, and a real email's bodies are tens of kilobytes.
/// </summary>
public sealed class EmailsWithoutBodiesTests
{
    private const string Alice = "alice@example.com";
    private const string Bob = "bob@example.com";

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task EveryColumnButTheBodiesIsReadAsStored(bool sqlite)
    {
        await using var store = sqlite ? await StatusStore.SqliteAsync() : await StatusStore.PostgresAsync();
        var emailId = Guid.NewGuid();
        await store.RecordAsync(TestEvents.Accepted(emailId, to: ["Alice <alice@example.com>"], cc: [Bob], bcc: ["audit@example.com"],
            replyTo: ["support@acme.test"], scheduledAt: DateTimeOffset.UtcNow.AddHours(1)));
        await store.RecordAsync(TestEvents.Deferred(emailId, Alice, nextAttemptAt: DateTimeOffset.UtcNow.AddMinutes(5)));

        await using var db = store.NewContext();
        var stored = await db.Emails.AsNoTracking().Include(e => e.Recipients).SingleAsync(e => e.Id == emailId);
        var read = await db.EmailsWithoutBodies.AsNoTracking().Include(e => e.Recipients).SingleAsync(e => e.Id == emailId);

        Assert.NotNull(stored.Html);
        Assert.NotNull(stored.Text);
        Assert.Null(read.Html);
        Assert.Null(read.Text);
        // Every other property of the model, whatever it is called and however it is converted, comes back as stored.
        foreach (var property in db.Model.FindEntityType(typeof(EmailRecord))!.GetProperties()
            .Where(p => p.Name is not (nameof(EmailRecord.Html) or nameof(EmailRecord.Text))))
        {
            var comparer = property.GetValueComparer();
            Assert.True(comparer.Equals(property.PropertyInfo!.GetValue(stored), property.PropertyInfo.GetValue(read)), property.Name);
        }

        Assert.Equal(
            stored.Recipients.OrderBy(r => r.Address, StringComparer.Ordinal).Select(r => (r.Address, r.State, r.NextAttemptAt)),
            read.Recipients.OrderBy(r => r.Address, StringComparer.Ordinal).Select(r => (r.Address, r.State, r.NextAttemptAt)));
    }

    /// <summary>
    /// Each later event of an email (reschedule, queued, deferred, delivered, bounced) is recorded with the email held
    /// without its bodies, and leaves them stored: what was read as null is not written back.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task TheRecorderHoldsAnEmailWithoutItsBodiesAndLeavesThemStored(bool sqlite)
    {
        await using var store = sqlite ? await StatusStore.SqliteAsync() : await StatusStore.PostgresAsync();
        var emailId = Guid.NewGuid();
        var accepted = TestEvents.Accepted(emailId, to: [Alice], cc: [Bob], scheduledAt: DateTimeOffset.UtcNow.AddHours(1));
        await store.RecordAsync(accepted);

        object[] later =
        [
            TestEvents.Rescheduled(emailId, DateTimeOffset.UtcNow.AddHours(2)),
            TestEvents.Queued(emailId),
            TestEvents.Deferred(emailId, Alice, nextAttemptAt: DateTimeOffset.UtcNow.AddMinutes(5)),
            TestEvents.Delivered(emailId, Alice, attempt: 2),
            TestEvents.Bounced(emailId, Bob),
        ];
        foreach (var message in later)
        {
            var held = Assert.Single(await store.RecordAndHeldEmailsAsync(message));
            Assert.Equal(emailId, held.Id);
            Assert.Null(held.Html);
            Assert.Null(held.Text);
        }

        var email = await store.EmailAsync(emailId);
        Assert.Equal((accepted.Html, accepted.Text), (email.Html, email.Text));
        Assert.Equal(
            [(Alice, EmailState.Delivered), (Bob, EmailState.Bounced)],
            email.Recipients.OrderBy(r => r.Address, StringComparer.Ordinal).Select(r => (r.Address, r.State)));
        Assert.Equal(6, (await store.EventsAsync(emailId)).Count);
    }

    /// <summary>An outcome that came first made the email without details; the accept then brings the bodies, and they are stored.</summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task BodiesThatArriveAfterAnOutcomeAreStored(bool sqlite)
    {
        await using var store = sqlite ? await StatusStore.SqliteAsync() : await StatusStore.PostgresAsync();
        var emailId = Guid.NewGuid();
        var accepted = TestEvents.Accepted(emailId, to: [Alice]);

        await store.RecordAsync(TestEvents.Delivered(emailId, Alice));
        await store.RecordAsync(accepted);

        var email = await store.EmailAsync(emailId);
        Assert.Equal((accepted.Html, accepted.Text), (email.Html, email.Text));
        Assert.Equal(EmailState.Delivered, email.State);
    }
}
