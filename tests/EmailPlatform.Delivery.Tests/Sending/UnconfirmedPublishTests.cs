using EmailPlatform.Contracts;
using EmailPlatform.Delivery.Storage;
using EmailPlatform.Delivery.Tests.Support;
using EmailPlatform.Testing;
using MassTransit;
using Microsoft.EntityFrameworkCore;
using SmtpServer.Protocol;

namespace EmailPlatform.Delivery.Tests.Sending;

/// <summary>
/// A publish the broker never confirms, as after a broker restart: RabbitMQ.Client 7.2 leaves a confirm still awaited
/// on a channel that is closed and disposed pending for ever, and MassTransit waits for it as long as its token allows.
/// The worker's waits are bounded by <c>Delivery:PublishTimeout</c>: a consume ends (and its lane keeps the permit), and
/// the retry scheduler goes on to its next round.
/// </summary>
public sealed class UnconfirmedPublishTests : IAsyncLifetime
{
    private static readonly Dictionary<string, string?> ShortPublishTimeout = new() { ["Delivery:PublishTimeout"] = "00:00:01" };

    private ScriptedSmtpServer _relay = null!;

    public async Task InitializeAsync() => _relay = await ScriptedSmtpServer.StartAsync();

    public async Task DisposeAsync() => await _relay.DisposeAsync();

    [Fact]
    public async Task OutcomeTheBrokerNeverConfirmsEndsTheAttemptAfterThePublishTimeoutWithTheDeliveryRecorded()
    {
        var email = TestEmails.Create();
        await using var host = await DeliveryHost.StartAsync(_relay.Port, settings: ShortPublishTimeout);
        var unconfirmed = host.Harness.Bus.ConnectPublishObserver(new NeverConfirmed<EmailDelivered>());

        // The consume was cancelled (the broker connection dropped) after the relay took the message: the outcome is
        // published without the consume's token, as it must be.
        var attempt = host.SendOnceAsync(email);
        var ended = await Task.WhenAny(attempt, Task.Delay(TimeSpan.FromSeconds(30)));

        Assert.True(ended == attempt, "the attempt still waits for a confirm that will never come");
        var timeout = await Assert.ThrowsAsync<TimeoutException>(() => attempt);
        Assert.Contains("Delivery:PublishTimeout", timeout.Message, StringComparison.Ordinal);
        Assert.Single(_relay.Received);
        var record = await host.QueryAsync(db => db.Deliveries.SingleAsync(d => d.EmailId == email.EmailId));
        Assert.Equal(DeliveryState.Delivered, record.State);

        // The broker is back and the command is redelivered: the recorded outcome is published, nothing is sent again.
        unconfirmed.Disconnect();
        await host.SendAsync(email);
        var delivered = Assert.Single(await host.WaitForAsync<EmailDelivered>(d => d.Count == 1, "the recorded outcome published"));
        Assert.Equal(record.OutcomeEventId, delivered.EventId);
        Assert.Single(_relay.Received);
    }

    [Fact]
    public async Task RecordedOutcomeTheBrokerNeverConfirmsLeavesNoClaimBehindOnTheRecipientStillToSend()
    {
        _relay.RcptReplies["alice@example.com"] = new SmtpResponse((SmtpReplyCode)550, "5.1.1 No such user");
        _relay.RcptReplies["bob@example.com"] = new SmtpResponse((SmtpReplyCode)451, "4.2.0 Mailbox busy");
        var email = TestEmails.Create(to: ["alice@example.com", "bob@example.com"]);
        await using var host = await DeliveryHost.StartAsync(_relay.Port, settings: ShortPublishTimeout);
        await host.SendOnceAsync(email);
        _relay.RcptReplies.Clear();

        // Alice bounced; Bob was handed back and waits for the command (as a claim released at shutdown leaves him).
        await host.QueryAsync(db => db.Deliveries.Where(d => d.EmailId == email.EmailId && d.Recipient == "bob@example.com")
            .ExecuteUpdateAsync(set => set.SetProperty(d => d.State, DeliveryState.Queued).SetProperty(d => d.DueAt, DateTime.UtcNow.AddHours(1))));

        // The command comes again and the broker never confirms the re-publish of Alice's bounce: the attempt ends.
        var unconfirmed = host.Harness.Bus.ConnectPublishObserver(new NeverConfirmed<EmailBounced>());
        await Assert.ThrowsAsync<TimeoutException>(() => host.SendOnceAsync(email));
        unconfirmed.Disconnect();

        // Bob's claim taken for that attempt used to stay behind, neither sent nor released: the consumer's retry found
        // him claimed elsewhere and left him to wait until the claim lapsed (Delivery:ClaimLease, ten minutes).
        await host.SendOnceAsync(email);
        var bob = await host.QueryAsync(db => db.Deliveries.AsNoTracking().SingleAsync(d => d.EmailId == email.EmailId && d.Recipient == "bob@example.com"));
        Assert.Equal((DeliveryState.Delivered, 2), (bob.State, bob.Attempt));
        Assert.Equal(["bob@example.com"], Assert.Single(_relay.Received).RcptTo);
        Assert.Single(host.Published<EmailDelivered>().Select(d => d.EventId).Distinct());
    }

    [Fact]
    public async Task RetryHandBackTheBrokerNeverConfirmsIsHandedBackAgainOnceItDoes()
    {
        _relay.RcptReplies["alice@example.com"] = new SmtpResponse((SmtpReplyCode)451, "4.2.0 Mailbox busy");
        var email = TestEmails.Create();
        var settings = new Dictionary<string, string?>(ShortPublishTimeout)
        {
            ["Delivery:RetrySchedule:0"] = "00:00:01",
            ["Delivery:RetryPollInterval"] = "00:00:01",
        };
        await using var host = await DeliveryHost.StartAsync(_relay.Port, settings: settings);
        await host.SendAsync(email);
        await host.WaitForAsync<EmailDeferred>(d => d.Count == 1, "the deferral");
        _relay.RcptReplies.Clear();

        // The retry falls due while the broker takes the scheduler's hand-back but never confirms it.
        var neverConfirmed = new NeverConfirmed<SendEmail>();
        var unconfirmed = host.Harness.Bus.ConnectSendObserver(neverConfirmed);
        await Eventually.GetAsync(() => Task.FromResult(neverConfirmed.Waited), waited => waited > 0, TimeSpan.FromSeconds(30),
            "the scheduler handing the retry back");
        unconfirmed.Disconnect();

        // A scheduler still waiting for that confirm would hand back nothing, ever again.
        var delivered = Assert.Single(await host.WaitForAsync<EmailDelivered>(d => d.Count == 1, "the retry delivered", seconds: 30));
        Assert.Equal(2, delivered.Attempt);
        Assert.Single(_relay.Received);
    }

    [Fact]
    public async Task FailureOfAFaultedCommandTheBrokerNeverConfirmsIsPublishedAgainOnceItDoes()
    {
        await using var host = await DeliveryHost.StartAsync(_relay.Port, settings: ShortPublishTimeout);
        var neverConfirmed = new NeverConfirmed<EmailFailed>();
        var unconfirmed = host.Harness.Bus.ConnectPublishObserver(neverConfirmed);
        var malformed = TestEmails.Create(headers: new Dictionary<string, string> { ["X-Note"] = "a\r\nBcc: victim@example.com" });

        await host.SendAsync(malformed);

        // The fault consumer's publish of the recipient's failure waits for its confirm; bounded, it ends and the
        // consumer's retry tries again. A wait without a bound would be the only one, for ever.
        await Eventually.GetAsync(() => Task.FromResult(neverConfirmed.Waited), waited => waited >= 2, TimeSpan.FromSeconds(30),
            "the failure's publish to end and be tried again");
        unconfirmed.Disconnect();

        var failed = Assert.Single(await host.WaitForAsync<EmailFailed>(f => f.Count >= 1, "the failure published", seconds: 30));
        Assert.Equal((malformed.EmailId, "alice@example.com"), (failed.EmailId, failed.Recipient));
        Assert.Empty(_relay.Received);
    }
}
