using EmailPlatform.Contracts;
using EmailPlatform.Delivery.Storage;
using EmailPlatform.Delivery.Suppressions;
using EmailPlatform.Delivery.Tests.Support;
using EmailPlatform.Testing;
using MassTransit.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace EmailPlatform.Delivery.Tests.Suppressions;

/// <summary>Recipients on the suppression list are recorded and published as suppressed, without SMTP traffic for them.</summary>
public sealed class SuppressedSendingTests : IAsyncLifetime
{
    private const string Reason = "Hard bounce 550 5.1.1: user unknown";
    private readonly FakeSuppressionList _suppressions = new();
    private ScriptedSmtpServer _relay = null!;

    public async Task InitializeAsync()
    {
        _relay = await ScriptedSmtpServer.StartAsync();
        _suppressions.Suppressed["gone@example.com"] = Reason;
    }

    public async Task DisposeAsync() => await _relay.DisposeAsync();

    [Fact]
    public async Task SuppressedRecipientIsNotSentAndTheOthersAre()
    {
        var email = TestEmails.Create(to: ["Gone@example.com", "alice@example.com"]);
        await using var host = await StartAsync(_relay.Port);

        await host.SendAsync(email);

        var suppressed = Assert.Single(await host.WaitForAsync<EmailSuppressed>(s => s.Count == 1, "the suppression"));
        var delivered = Assert.Single(await host.WaitForAsync<EmailDelivered>(d => d.Count == 1, "the delivery"));
        // The attempt that found it suppressed, so the status service can tell it from a late event of an earlier one.
        Assert.Equal((email.EmailId, "Gone@example.com", Reason, 1), (suppressed.EmailId, suppressed.Recipient, suppressed.Reason, suppressed.Attempt));
        Assert.Equal("alice@example.com", delivered.Recipient);
        var received = Assert.Single(_relay.Received);
        Assert.Equal(["alice@example.com"], received.RcptTo);
        var records = await host.QueryAsync(db => db.Deliveries.Where(d => d.EmailId == email.EmailId).ToDictionaryAsync(d => d.Recipient, d => d.State));
        Assert.Equal(DeliveryState.Suppressed, records["Gone@example.com"]);
        Assert.Equal(DeliveryState.Delivered, records["alice@example.com"]);
        Assert.False(await host.Harness.Published.Any<EmailFailed>());
    }

    [Fact]
    public async Task ARecipientTheListCannotAnswerAboutWhileItsFilterHoldsItIsDeferredAndTheOthersAreSent()
    {
        _suppressions.Unknown["maybe@example.com"] = "The suppression list could not be checked.";
        var email = TestEmails.Create(to: ["maybe@example.com", "alice@example.com"]);
        await using var host = await StartAsync(_relay.Port);

        await host.SendAsync(email);

        var deferred = Assert.Single(await host.WaitForAsync<EmailDeferred>(d => d.Count == 1, "the deferral"));
        var delivered = Assert.Single(await host.WaitForAsync<EmailDelivered>(d => d.Count == 1, "the delivery"));
        Assert.Equal(("maybe@example.com", "The suppression list could not be checked."), (deferred.Recipient, deferred.Reason));
        Assert.Null(deferred.Reply);
        Assert.NotNull(deferred.NextAttemptAt);
        Assert.Equal("alice@example.com", delivered.Recipient);
        Assert.Equal(["alice@example.com"], Assert.Single(_relay.Received).RcptTo);
        var records = await host.QueryAsync(db => db.Deliveries.Where(d => d.EmailId == email.EmailId).ToDictionaryAsync(d => d.Recipient, d => d.State));
        Assert.Equal(DeliveryState.Deferred, records["maybe@example.com"]);
        Assert.False(await host.Harness.Published.Any<EmailSuppressed>());
    }

    [Theory]
    [InlineData(TestStore.Sqlite)]
    [InlineData(TestStore.Postgres)]
    public async Task EmailWhoseRecipientsAreAllSuppressedOpensNoSmtpSessionAndRepublishesTheSameEvent(TestStore store)
    {
        _suppressions.Suppressed["gone2@example.com"] = "Added by API";
        var email = TestEmails.Create(to: ["gone@example.com"], cc: ["gone2@example.com"]);
        await using var proxy = new CountingProxy(_relay.Port);
        await using var host = await StartAsync(proxy.Port, store);

        await host.SendAsync(email);
        var first = await host.WaitForAsync<EmailSuppressed>(s => s.Count == 2, "the suppressions");
        await host.SendAsync(email);

        var all = await host.WaitForAsync<EmailSuppressed>(s => s.Count == 4, "the suppressions published again");
        Assert.Equal(first.Select(s => s.EventId).Order(), all.Skip(2).Select(s => s.EventId).Order());
        Assert.Equal(["Added by API", Reason], first.OrderBy(s => s.Recipient).Select(s => s.Reason));
        Assert.Equal(0, proxy.Sessions);
        Assert.Empty(_relay.Received);
        Assert.False(await host.Harness.Published.Any<EmailDelivered>());
        Assert.False(await host.QueryAsync(db => db.RetryMessages.AnyAsync(m => m.EmailId == email.EmailId)));
    }

    [Fact]
    public async Task WithoutASuppressionListEveryRecipientIsSent()
    {
        var email = TestEmails.Create(to: ["gone@example.com"]);
        await using var host = await DeliveryHost.StartAsync(_relay.Port);

        Assert.Null(host.Services.GetService<ISuppressionList>());
        await host.SendAsync(email);

        await host.WaitForAsync<EmailDelivered>(d => d.Count == 1, "the delivery");
        Assert.Single(_relay.Received);
    }

    private Task<DeliveryHost> StartAsync(int relayPort, TestStore store = TestStore.Sqlite) =>
        DeliveryHost.StartAsync(relayPort, store, services: s => s.AddSingleton<ISuppressionList>(_suppressions));
}
