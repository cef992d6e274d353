using EmailPlatform.Contracts;
using EmailPlatform.Status.Recording;
using EmailPlatform.Status.Tests.Support;
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

        var failure = await Assert.ThrowsAsync<PostgresException>(() => recording[2]);
        Assert.True(StatusEventWriter.IsBadEvent(failure), $"SQLSTATE {failure.SqlState} should count as an event the store refuses.");
        await Task.WhenAll(recording.Where((_, i) => i != 2)).WaitAsync(TimeSpan.FromSeconds(60));
        var stored = await api.WithStoreAsync(db => Task.FromResult(db.Events.Where(e => e.EmailId == emailId).Select(e => e.Type).ToList()));
        Assert.Equal(["email.accepted", "email.delivered"], stored.Order());
    }
}
