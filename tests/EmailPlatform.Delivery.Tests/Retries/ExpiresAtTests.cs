using EmailPlatform.Contracts;
using EmailPlatform.Delivery.Retries;
using EmailPlatform.Delivery.Tests.Support;
using EmailPlatform.Testing;
using Microsoft.Extensions.DependencyInjection;
using SmtpServer.Protocol;

namespace EmailPlatform.Delivery.Tests.Retries;

/// <summary>An email's own deadline (<c>SendEmail.ExpiresAt</c>) overrides the configured retry window.</summary>
public sealed class ExpiresAtTests : IAsyncLifetime
{
    private ScriptedSmtpServer _relay = null!;

    public async Task InitializeAsync() => _relay = await ScriptedSmtpServer.StartAsync();

    public async Task DisposeAsync() => await _relay.DisposeAsync();

    [Fact]
    public async Task EmailArrivingAfterItsExpiresAtFailsWithoutSmtp()
    {
        var email = TestEmails.Create(to: ["alice@example.com", "bob@example.com"]) with { ExpiresAt = DateTimeOffset.UtcNow.AddMinutes(-1) };
        await using var host = await DeliveryHost.StartAsync(_relay.Port);

        await host.SendAsync(email);

        var failed = await host.WaitForAsync<EmailFailed>(f => f.Count == 2, "both recipients expired");
        Assert.All(failed, f => Assert.StartsWith("Expired: the email's expires_at", f.Reason, StringComparison.Ordinal));
        Assert.All(failed, f => Assert.Null(f.Relay));
        Assert.Empty(_relay.Received);
        Assert.Empty(host.Published<EmailDelivered>());
    }

    [Fact]
    public async Task DeferredRecipientFailsWhenTheEmailsExpiresAtPassesBeforeItsNextAttempt()
    {
        _relay.RcptReplies["alice@example.com"] = new SmtpResponse((SmtpReplyCode)451, "4.2.0 Mailbox busy");
        var clock = new AdvancingClock();
        // The next attempt would be in an hour; the configured window is two days: the email's deadline wins.
        await using var host = await DeliveryHost.StartAsync(_relay.Port, settings: new Dictionary<string, string?>
        {
            ["Delivery:RetrySchedule:0"] = "01:00:00",
        }, services: s => s.AddSingleton<TimeProvider>(clock));
        // Half an hour ahead, so that the first attempt is made and recorded before it however busy the machine (with a
        // deadline a few seconds ahead the worker could fail alice at her claim or her record, with no deferral at all);
        // the worker's clock is moved past it once she is deferred.
        var expiresAt = clock.GetUtcNow().AddMinutes(30);
        var email = TestEmails.Create(to: ["alice@example.com", "bob@example.com"]) with { ExpiresAt = expiresAt };

        await host.SendAsync(email);

        var deferred = Assert.Single(await host.WaitForAsync<EmailDeferred>(d => d.Count == 1, "the deferral"));
        Assert.Equal(expiresAt.UtcDateTime, deferred.NextAttemptAt!.Value.UtcDateTime, TimeSpan.FromMilliseconds(1));
        Assert.Empty(host.Published<EmailFailed>());
        clock.Advance(TimeSpan.FromMinutes(31));
        // The scheduler sleeps on the system's time, until the deadline or its poll: it is woken as a deferral would.
        host.Services.GetRequiredService<RetrySignal>().Notify();
        var failed = Assert.Single(await host.WaitForAsync<EmailFailed>(f => f.Count == 1, "the expiry"));
        Assert.Equal(("alice@example.com", 1, 451), (failed.Recipient, failed.Attempt, failed.Reply?.Code));
        Assert.StartsWith("Expired: still not delivered after 1 attempt(s) when the email's expires_at", failed.Reason, StringComparison.Ordinal);
        Assert.True(failed.Timestamp >= expiresAt, "failed no earlier than the deadline");
        Assert.Equal("bob@example.com", Assert.Single(host.Published<EmailDelivered>()).Recipient);
        Assert.Single(_relay.Received);
    }
}
