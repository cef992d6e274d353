using EmailPlatform.Status.Storage;
using EmailPlatform.Status.Tests.Support;

namespace EmailPlatform.Status.Tests.Recording;

/// <summary>The standalone host's store: the SQLite migrations apply and the recorder works on them.</summary>
public sealed class StatusRecorderSqliteTests
{
    [Fact]
    public async Task QueuedThenDeliveredIsRecordedInSqliteWithUtcTimestamps()
    {
        await using var store = await StatusStore.SqliteAsync();
        var emailId = Guid.NewGuid();
        var queued = TestEvents.Accepted(emailId, to: ["alice@example.com"], bcc: ["audit@example.com"]);
        var nextAttemptAt = DateTimeOffset.UtcNow.AddMinutes(10);

        await store.RecordAsync(queued);
        await store.RecordAsync(TestEvents.Deferred(emailId, "audit@example.com", attempt: 1, nextAttemptAt: nextAttemptAt));
        await store.RecordAsync(TestEvents.Delivered(emailId, "alice@example.com"));
        await store.RecordAsync(TestEvents.Delivered(emailId, "audit@example.com", attempt: 2));

        var email = await store.EmailAsync(emailId);
        Assert.Equal(EmailState.Delivered, email.State);
        Assert.Equal(["alice@example.com"], email.To);
        Assert.Equal(["audit@example.com"], email.Bcc);
        Assert.Equal("A-1001", email.Metadata["order_id"]);
        Assert.Equal(["receipt.pdf"], email.AttachmentNames);
        Assert.Equal(queued.AcceptedAt.UtcDateTime, email.AcceptedAt!.Value);
        Assert.Equal(DateTimeKind.Utc, email.AcceptedAt.Value.Kind);
        Assert.Equal(DateTimeKind.Utc, email.UpdatedAt.Kind);
        Assert.All(email.Recipients, r =>
        {
            Assert.Equal((EmailState.Delivered, 250), (r.State, r.SmtpCode));
            Assert.Equal(DateTimeKind.Utc, r.UpdatedAt.Kind);
        });
        Assert.Equal([("alice@example.com", "to"), ("audit@example.com", "bcc")],
            email.Recipients.OrderBy(r => r.Address, StringComparer.Ordinal).Select(r => (r.Address, r.Kind)));

        var events = await store.EventsAsync(emailId);
        Assert.Equal(["email.accepted", "email.deferred", "email.delivered", "email.delivered"], events.Select(e => e.Type));
        Assert.All(events, e => Assert.Equal((DateTimeKind.Utc, DateTimeKind.Utc), (e.OccurredAt.Kind, e.RecordedAt.Kind)));
        Assert.Equal(queued.Timestamp.UtcDateTime, events[0].OccurredAt);
        Assert.Equal(nextAttemptAt.UtcDateTime, events[1].NextAttemptAt!.Value);
        Assert.Equal(DateTimeKind.Utc, events[1].NextAttemptAt!.Value.Kind);
    }
}
