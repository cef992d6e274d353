using EmailPlatform.Contracts;
using EmailPlatform.Delivery.Storage;
using EmailPlatform.Delivery.Tests.Support;
using EmailPlatform.ServiceDefaults.Messaging;
using EmailPlatform.Testing;
using MassTransit.Testing;
using Microsoft.EntityFrameworkCore;
using SmtpServer.Protocol;

namespace EmailPlatform.Delivery.Tests.Claims;

/// <summary>Claims and recorded outcomes: a command delivered twice by the bus is sent once, on both stores.</summary>
public sealed class IdempotentSendingTests : IAsyncLifetime
{
    private ScriptedSmtpServer _relay = null!;

    public async Task InitializeAsync() => _relay = await ScriptedSmtpServer.StartAsync();

    public async Task DisposeAsync() => await _relay.DisposeAsync();

    [Theory]
    [InlineData(TestStore.Sqlite)]
    [InlineData(TestStore.Postgres)]
    public async Task SameSendEmailConsumedTwiceSendsOneMessageAndRepublishesTheSameEvent(TestStore store)
    {
        var email = TestEmails.Create(to: ["alice@example.com", "bob@example.com"]);
        await using var host = await DeliveryHost.StartAsync(_relay.Port, store);

        await host.SendAsync(email);
        await host.WaitForAsync<EmailDelivered>(d => d.Count == 2, "the first delivery");
        await host.SendAsync(email);

        var delivered = await host.WaitForAsync<EmailDelivered>(d => d.Count == 4, "the recorded outcomes published again");
        Assert.Single(_relay.Received);
        Assert.Equal(2, delivered.Select(d => d.EventId).Distinct().Count());
        Assert.All(delivered, d => Assert.Equal(1, d.Attempt));
        Assert.False(await host.Harness.Published.Any<EmailDeferred>());
    }

    [Fact]
    public async Task CommandRedeliveredWhileItsRecipientWaitsForARetryIsNotSentEarly()
    {
        _relay.RcptReplies["alice@example.com"] = new SmtpResponse((SmtpReplyCode)451, "4.2.0 Mailbox busy");
        var email = TestEmails.Create();
        await using var host = await DeliveryHost.StartAsync(_relay.Port);

        await host.SendAsync(email);
        var first = Assert.Single(await host.WaitForAsync<EmailDeferred>(d => d.Count == 1, "the deferral"));
        _relay.RcptReplies.Clear();
        await host.SendAsync(email);

        var deferred = await host.WaitForAsync<EmailDeferred>(d => d.Count == 2, "the deferral published again");
        Assert.Equal(first.EventId, deferred[1].EventId);
        Assert.Empty(_relay.Received);
        Assert.False(await host.Harness.Published.Any<EmailDelivered>());
    }

    [Fact]
    public async Task ClaimLeftByACrashedWorkerIsTakenOverAfterItsLeaseWithTheNextAttemptNumber()
    {
        var email = TestEmails.Create();
        await using var host = await DeliveryHost.StartAsync(_relay.Port);

        // A worker claimed the recipient and died: its lease has run out. The bus delivers the command again.
        await host.QueryAsync(async db =>
        {
            var now = DateTime.UtcNow;
            db.Deliveries.Add(ClaimOfAnotherWorker(email, now, leaseEnds: now.AddSeconds(-1)));

            // What the crashed worker stored with its claim, so the retry scheduler may hand it back too.
            db.RetryMessages.Add(new RetryMessage
            {
                EmailId = email.EmailId,
                Command = System.Text.Json.JsonSerializer.Serialize(email, EmailPlatform.ServiceDefaults.Json.StoredJson.Options),
                CreatedAt = now,
            });
            return await db.SaveChangesAsync();
        });
        await host.SendAsync(email);

        var delivered = Assert.Single(await host.WaitForAsync<EmailDelivered>(d => d.Count == 1, "the delivery"));
        Assert.Equal(2, delivered.Attempt);
        Assert.Single(_relay.Received);
        var record = await host.QueryAsync(db => db.Deliveries.SingleAsync(d => d.EmailId == email.EmailId));
        Assert.Equal((DeliveryState.Delivered, 2, (Guid?)null), (record.State, record.Attempt, record.ClaimId));
    }

    [Fact]
    public async Task ClaimLapsedWithNothingKeptWaitsForTheRedeliveredCommandInsteadOfFailingAsLost()
    {
        // The only worker claimed the recipient (a first attempt keeps no command) and died; it restarts after more than a
        // lease, so its retry scheduler finds the lapsed claim before its consumer gets the command back from the broker.
        var email = TestEmails.Create();
        await using var host = await DeliveryHost.StartAsync(_relay.Port, settings: new Dictionary<string, string?> { ["Delivery:RetryPollInterval"] = "00:00:01" });
        await host.QueryAsync(async db =>
        {
            var now = DateTime.UtcNow;
            db.Deliveries.Add(ClaimOfAnotherWorker(email, now, leaseEnds: now.AddSeconds(-1)));
            return await db.SaveChangesAsync();
        });
        var waiting = await Eventually.GetAsync(() => host.QueryAsync(db => db.Deliveries.AsNoTracking().SingleAsync(d => d.EmailId == email.EmailId)),
            record => record.State != DeliveryState.Sending, TimeSpan.FromSeconds(30), "the scheduler to look at the lapsed claim");
        Assert.Equal((DeliveryState.Queued, (Guid?)null), (waiting.State, waiting.ClaimId));
        // It waits for as long as a worker cut off from the store alone may hold the command and then send it: not
        // failed as lost before one more lease and the store outage retry's span are over.
        Assert.True(waiting.DueAt >= DateTime.UtcNow + StoreOutageRetry.Span, $"due at {waiting.DueAt:O}");

        await host.SendAsync(email);

        var delivered = Assert.Single(await host.WaitForAsync<EmailDelivered>(d => d.Count == 1, "the delivery"));
        Assert.Equal(2, delivered.Attempt);
        Assert.Single(_relay.Received);
        Assert.False(await host.Harness.Published.Any<EmailFailed>());
    }

    [Fact]
    public async Task LiveClaimOfAnotherWorkerIsLeftAloneAndTheCommandKeptForATakeover()
    {
        var email = TestEmails.Create();
        await using var host = await DeliveryHost.StartAsync(_relay.Port);
        await host.QueryAsync(async db =>
        {
            var now = DateTime.UtcNow;
            db.Deliveries.Add(ClaimOfAnotherWorker(email, now, leaseEnds: now.AddMinutes(5)));
            return await db.SaveChangesAsync();
        });

        await host.SendAsync(email);

        // The kept command is the consumer's own doing, so waiting for it also waits for the consume (the harness's
        // Consumed.Any gives up after its inactivity timeout, which a loaded CI machine can exceed).
        await Eventually.GetAsync(() => host.QueryAsync(db => db.RetryMessages.AnyAsync(m => m.EmailId == email.EmailId)),
            kept => kept, TimeSpan.FromSeconds(60), "the command kept for a takeover");
        Assert.True(await host.Harness.Consumed.Any<SendEmail>());
        Assert.Empty(_relay.Received);
        Assert.False(await host.Harness.Published.Any<EmailDelivered>());
    }

    /// <summary>
    /// Alice's first attempt, claimed by a worker other than the test's and still sending, as that worker left it: its
    /// lease ends at <paramref name="leaseEnds"/> (the claim's due time), past for one that died, ahead for one at work.
    /// </summary>
    private static DeliveryRecord ClaimOfAnotherWorker(SendEmail email, DateTime now, DateTime leaseEnds) => new()
    {
        EmailId = email.EmailId, Recipient = "alice@example.com", State = DeliveryState.Sending, Attempt = 1,
        ClaimId = Guid.NewGuid(), DueAt = leaseEnds, FirstAttemptAt = now, ExpiresAt = now.AddDays(2), UpdatedAt = now,
    };
}
