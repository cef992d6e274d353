using EmailPlatform.Contracts;
using EmailPlatform.ServiceDefaults.Storage;
using EmailPlatform.Status.Recording;
using EmailPlatform.Status.Storage;
using EmailPlatform.Status.Tests.Support;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace EmailPlatform.Status.Tests.Recording;

/// <summary>The service's single writer: what one batch's failure does to the events gathered with it.</summary>
[Collection(RecordedEventsCounter.Collection)]
public sealed class StatusEventWriterTests
{
    [Fact]
    public async Task AnEventTheStoreRefusesFailsAloneAndTheRestOfItsBatchIsRecordedOnce()
    {
        // Half a second of gathering puts the events handed over together below into one batch.
        await using var api = await StatusApi.StartAsync(new Dictionary<string, string> { ["Status:Recording:MaxBatchDelay"] = "00:00:00.5" });
        var writer = api.Services.GetRequiredService<StatusEventWriter>();
        var emailId = Guid.NewGuid();
        var delivered = TestEvents.Delivered(emailId, "alice@example.com");
        // PostgreSQL stores no NUL character in a text: this event can never be recorded.
        var refused = TestEvents.Bounced(emailId, "bob@example.com") with { Reply = new SmtpReply(550, "5.1.1", "User\0unknown") };

        object[] events = [TestEvents.Accepted(emailId, to: ["alice@example.com", "bob@example.com"]), delivered, refused, delivered];
        var recording = events.Select(e => writer.RecordAsync(e, CancellationToken.None)).ToList();

        // Faulted as an event that cannot be recorded, which the consumers' retry policy does not retry.
        var failure = await Assert.ThrowsAsync<UnrecordableEventException>(() => recording[2]);
        Assert.Equal(refused.EventId, failure.EventId);
        Assert.StartsWith("22", Assert.IsType<PostgresException>(failure.InnerException).SqlState, StringComparison.Ordinal);
        await Task.WhenAll(recording.Where((_, i) => i != 2)).WaitAsync(TimeSpan.FromSeconds(60));
        var stored = await api.WithStoreAsync(db => Task.FromResult(db.Events.Where(e => e.EmailId == emailId).Select(e => e.Type).ToList()));
        Assert.Equal(["email.accepted", "email.delivered"], stored.Order());
    }

    [Fact]
    public async Task TheEventsOfOneMessageAreRecordedTogetherOrNotAtAll()
    {
        // One event a batch: a message's events still go into one transaction.
        await using var api = await StatusApi.StartAsync(new Dictionary<string, string>
        {
            ["Status:Recording:MaxBatchDelay"] = "00:00:00.5",
            ["Status:Recording:MaxBatchSize"] = "1",
        });
        var writer = api.Services.GetRequiredService<StatusEventWriter>();
        var (refusedId, recordedId) = (Guid.NewGuid(), Guid.NewGuid());
        // PostgreSQL stores no NUL character in a text: this accept can never be recorded, and its queued event, which
        // could be on its own, must not be either.
        var refused = TestEvents.Accepted(refusedId, to: ["alice@example.com"]) with { Subject = "Your\0receipt" };
        var queued = TestEvents.Queued(recordedId);

        var failing = writer.RecordAsync([refused, TestEvents.Queued(refusedId)], CancellationToken.None);
        var recording = writer.RecordAsync([TestEvents.Accepted(recordedId, to: ["bob@example.com"]), queued], CancellationToken.None);

        var failure = await Assert.ThrowsAsync<UnrecordableEventException>(() => failing.WaitAsync(TimeSpan.FromSeconds(60)));
        Assert.Equal(refused.EventId, failure.EventId);
        await recording.WaitAsync(TimeSpan.FromSeconds(60));
        var stored = await api.WithStoreAsync(db => db.Events.Where(e => e.EmailId == refusedId || e.EmailId == recordedId)
            .Select(e => new { e.EmailId, e.Type }).ToListAsync());
        Assert.Equal([(recordedId, "email.accepted"), (recordedId, "email.queued")], stored.Select(e => (e.EmailId, e.Type)).Order());
    }

    public static TheoryData<string> Outages => ["connection broken", "disk full"];

    [Theory]
    [MemberData(nameof(Outages))]
    public async Task AnOutageInABatchsSaveChangesFaultsTheWholeBatchOnceForTheOutageWaitInsteadOfEventByEvent(string outage)
    {
        // The suppressions a hard bounce adds go through SaveChanges, which wraps what the store said in a DbUpdateException.
        var failing = new FailingStatements("INSERT INTO suppressions")
        {
            Armed = true,
            Failure = outage switch
            {
                "disk full" => () => new PostgresException("could not extend file: No space left on device", "ERROR", "ERROR", PostgresErrorCodes.DiskFull),
                _ => () => new NpgsqlException("Exception while reading from stream", new IOException("Connection reset by peer")),
            },
        };
        await using var api = await StatusApi.StartAsync(
            new Dictionary<string, string> { ["Status:Recording:MaxBatchDelay"] = "00:00:00.5" },
            s => s.ConfigureDbContext<PostgresStatusDbContext>(o => o.AddInterceptors(failing)));
        var writer = api.Services.GetRequiredService<StatusEventWriter>();
        var emailIds = Enumerable.Range(0, 4).Select(_ => Guid.NewGuid()).ToList();
        object[] events = [.. emailIds.Take(3).Select(id => TestEvents.Bounced(id, $"gone-{id:N}@example.com")), TestEvents.Delivered(emailIds[3], "alice@example.com")];

        var recording = events.Select(e => writer.RecordAsync(e, CancellationToken.None)).ToList();

        foreach (var task in recording)
        {
            var failure = await Assert.ThrowsAnyAsync<Exception>(() => task.WaitAsync(TimeSpan.FromSeconds(60)));
            // What the consumers' outage wait (StoreOutageRetry) takes: the message waits for the store, it is not dead-lettered.
            Assert.True(StoreErrors.IsUnavailable(failure), $"{failure.GetType().Name} should count as the store being unavailable: {failure}");
        }

        // Once for the batch; one at a time, the three bounces would each have reached the store again.
        Assert.Equal(1, failing.Failed);
        Assert.Equal(0, await api.WithStoreAsync(db => db.Events.CountAsync(e => emailIds.Contains(e.EmailId))));
    }
}
