using System.Text.Json;
using EmailPlatform.Contracts;
using EmailPlatform.Delivery.Retries;
using EmailPlatform.Delivery.Storage;
using EmailPlatform.Delivery.Tests.Support;
using EmailPlatform.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using SmtpServer.Protocol;

namespace EmailPlatform.Delivery.Tests.Retries;

/// <summary>An operator's bulk retry (<see cref="RetryRecipients"/>).</summary>
public sealed class RetryRecipientsTests : IAsyncLifetime
{
    private ScriptedSmtpServer _relay = null!;

    public async Task InitializeAsync() => _relay = await ScriptedSmtpServer.StartAsync();

    public async Task DisposeAsync() => await _relay.DisposeAsync();

    [Fact]
    public async Task RetryBringsDeferredForwardRetriesFailedAndNeverResendsDelivered()
    {
        _relay.RcptReplies["bob@example.com"] = new SmtpResponse((SmtpReplyCode)451, "4.2.0 Mailbox busy");
        _relay.RcptReplies["carol@example.com"] = new SmtpResponse((SmtpReplyCode)451, "4.2.0 Mailbox busy");
        var clock = new AdvancingClock();
        await using var worker = await RabbitMqWorker.StartAsync(_relay.Port, new Dictionary<string, string?>
        {
            ["Delivery:RetrySchedule:0"] = "01:00:00",
        }, services: s => s.AddSingleton<TimeProvider>(clock));

        // alice is delivered and bob deferred for an hour; carol's email expires while she is deferred. Her deadline is
        // half an hour ahead, so that her first attempt is made and recorded before it however busy the machine (with
        // one a few seconds ahead the worker could fail her at her claim, before any attempt); the worker's clock is
        // moved past it once she is deferred.
        var first = TestEmails.Create(to: ["alice@example.com", "bob@example.com"]);
        var second = TestEmails.Create(to: ["carol@example.com"]) with { ExpiresAt = clock.GetUtcNow().AddMinutes(30) };
        await worker.SendAsync(first);
        await worker.SendAsync(second);
        await worker.WaitForAsync<EmailDeferred>(d => d.Any(e => e.Recipient == "bob@example.com") && d.Any(e => e.Recipient == "carol@example.com"),
            "bob and carol deferred");
        clock.Advance(TimeSpan.FromMinutes(31));
        // The scheduler sleeps on the system's time, until carol's deadline or its poll: it is woken as a deferral would.
        worker.Services.GetRequiredService<RetrySignal>().Notify();
        await worker.WaitForAsync<EmailFailed>(f => f.Count == 1, "carol expired");
        _relay.RcptReplies.Clear();

        var retryFirst = new RetryRecipients(Guid.NewGuid(), first.EmailId, ["alice@example.com", "bob@example.com"], DateTimeOffset.UtcNow);
        await worker.Bus.Publish(retryFirst);
        await worker.Bus.Publish(retryFirst);
        await worker.Bus.Publish(new RetryRecipients(Guid.NewGuid(), second.EmailId, ["carol@example.com"], DateTimeOffset.UtcNow));

        var delivered = await worker.WaitForAsync<EmailDelivered>(d => d.Count == 3, "bob and carol delivered by the retry");
        Assert.Equal(2, delivered.Single(d => d.Recipient == "bob@example.com").Attempt);
        Assert.Equal(2, delivered.Single(d => d.Recipient == "carol@example.com").Attempt);
        Assert.Equal(1, _relay.Received.Count(m => m.RcptTo.Contains("alice@example.com")));
        Assert.Equal(1, _relay.Received.Count(m => m.RcptTo.Contains("bob@example.com")));
        Assert.Equal(3, _relay.Received.Count);

        // Every recipient is final and none failed: nothing is kept any more.
        await Eventually.GetAsync(() => worker.QueryAsync(db => db.RetryMessages.CountAsync()), n => n == 0, TimeSpan.FromSeconds(30), "the content forgotten");
        Assert.Equal(2, await worker.QueryAsync(db => db.ProcessedCommands.CountAsync()));
    }

    [Fact]
    public async Task CommandCarriedOutTwiceRetriesAFailedRecipientOnce()
    {
        // The retried attempt meets a busy mailbox again and, with a one-second window, fails again.
        _relay.RcptReplies["alice@example.com"] = new SmtpResponse((SmtpReplyCode)451, "4.2.0 Mailbox busy");
        await using var host = await DeliveryHost.StartAsync(_relay.Port, TestStore.Postgres, new Dictionary<string, string?>
        {
            ["Delivery:MaxRetryAge"] = "00:00:01",
            ["Delivery:RetrySchedule:0"] = "00:00:01",
        });
        var email = TestEmails.Create() with { ExpiresAt = DateTimeOffset.UtcNow.AddDays(-1) };
        await SeedFailedAsync(host, email, keepUntil: DateTime.UtcNow.AddDays(1));
        var command = new RetryRecipients(Guid.NewGuid(), email.EmailId, ["alice@example.com"], DateTimeOffset.UtcNow);

        await RetryAsync(host, command);

        // The email's own (past) deadline no longer applies: the retry reached the relay and failed on its new window.
        var failed = Assert.Single(await host.WaitForAsync<EmailFailed>(f => f.Count == 1, "the retried recipient failed again"));
        Assert.StartsWith("Expired: still not delivered after", failed.Reason, StringComparison.Ordinal);
        Assert.InRange(failed.Attempt, 2, 10);
        var stored = await host.QueryAsync(db => db.RetryMessages.AsNoTracking().SingleAsync());
        Assert.Null(JsonSerializer.Deserialize<SendEmail>(stored.Command)!.ExpiresAt);
        Assert.NotNull(stored.KeepUntil);

        // The same command redelivered does not start another attempt; a new one does.
        await RetryAsync(host, command);
        var record = await host.QueryAsync(db => db.Deliveries.AsNoTracking().SingleAsync());
        Assert.Equal((DeliveryState.Failed, (DateTime?)null, failed.Attempt), (record.State, record.DueAt, record.Attempt));
        await RetryAsync(host, command with { CommandId = Guid.NewGuid() });
        await host.WaitForAsync<EmailFailed>(f => f.Count == 2, "the new command's retry to fail again");
        Assert.True((await host.QueryAsync(db => db.Deliveries.AsNoTracking().SingleAsync())).Attempt > failed.Attempt);
    }

    [Fact]
    public async Task FailedRecipientWhoseContentIsNoLongerKeptIsLeftFailed()
    {
        await using var host = await DeliveryHost.StartAsync(_relay.Port);
        var email = TestEmails.Create();
        await SeedFailedAsync(host, email, keepUntil: DateTime.UtcNow.AddSeconds(-1));

        await RetryAsync(host, new RetryRecipients(Guid.NewGuid(), email.EmailId, ["alice@example.com"], DateTimeOffset.UtcNow));

        Assert.Equal(DeliveryState.Failed, (await host.QueryAsync(db => db.Deliveries.AsNoTracking().SingleAsync())).State);
    }

    private static async Task RetryAsync(DeliveryHost host, RetryRecipients command)
    {
        await using var scope = host.Services.CreateAsyncScope();
        await scope.ServiceProvider.GetRequiredService<RecipientRetries>().RetryAsync(command, CancellationToken.None);
    }

    /// <summary>alice failed as expired after one attempt, the content kept until <paramref name="keepUntil"/>.</summary>
    private static Task<int> SeedFailedAsync(DeliveryHost host, SendEmail email, DateTime keepUntil) => host.QueryAsync(async db =>
    {
        var now = DateTime.UtcNow;
        var record = await db.Deliveries.SingleOrDefaultAsync(d => d.EmailId == email.EmailId);
        if (record is null)
        {
            record = new DeliveryRecord { EmailId = email.EmailId, Recipient = "alice@example.com", FirstAttemptAt = now.AddDays(-2) };
            db.Deliveries.Add(record);
            db.RetryMessages.Add(new RetryMessage { EmailId = email.EmailId, Command = JsonSerializer.Serialize(email), CreatedAt = now.AddDays(-2) });
        }

        record.State = DeliveryState.Failed;
        record.Attempt = 1;
        record.ExpiresAt = now.AddMinutes(-1);
        record.DueAt = null;
        record.Reason = "Expired";
        record.OutcomeEventId = Guid.NewGuid();
        record.UpdatedAt = now;
        record.Version++;
        (db.RetryMessages.Local.FirstOrDefault(m => m.EmailId == email.EmailId)
            ?? await db.RetryMessages.SingleAsync(m => m.EmailId == email.EmailId)).KeepUntil = keepUntil;
        return await db.SaveChangesAsync();
    });
}
