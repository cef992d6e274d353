using EmailPlatform.Contracts;
using EmailPlatform.Delivery.Claims;
using EmailPlatform.Delivery.Retries;
using EmailPlatform.Delivery.Storage;
using EmailPlatform.Delivery.Tests.Support;
using EmailPlatform.Testing;
using MassTransit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace EmailPlatform.Delivery.Tests.Retries;

/// <summary>
/// The failures the retry scheduler records itself (expired, lost) are committed before they are published, and
/// published again under the same event ids until they have been: the status service knows an event by its id only.
/// </summary>
public sealed class SchedulerFailurePublishTests
{
    [Theory]
    [InlineData(TestStore.Postgres)]
    [InlineData(TestStore.Sqlite)]
    public async Task ExpiryWhosePublishIsNotConfirmedIsPublishedAgainUnderTheSameEventIds(TestStore store)
    {
        var clock = new ManualClock(DateTimeOffset.UtcNow);
        await using var host = await DeliveryHost.StartAsync(ServiceProcess.FreeTcpPort(), store,
            settings: new Dictionary<string, string?> { ["Delivery:PublishTimeout"] = "00:00:01" },
            services: s => s.AddSingleton<TimeProvider>(clock));
        // Stopped, so that the test runs each round itself.
        var scheduler = host.Services.GetServices<IHostedService>().OfType<RetryScheduler>().Single();
        await scheduler.StopAsync(CancellationToken.None);
        var now = clock.GetUtcNow();
        var email = TestEmails.Create(to: ["alice@example.com", "bob@example.com"]) with { ExpiresAt = now.AddMinutes(-1) };
        await host.QueryAsync(db =>
        {
            // Both deferred after a first attempt, due now, after the email's expires_at: this round fails both.
            db.RetryMessages.Add(DeliveryLedger.Kept(email, now.UtcDateTime.AddHours(-1), null));
            // Alice first: due a moment earlier.
            foreach (var (recipient, i) in email.Envelope.RcptTo.Select((r, i) => (r, i)))
            {
                db.Deliveries.Add(new DeliveryRecord
                {
                    EmailId = email.EmailId,
                    Recipient = recipient,
                    State = DeliveryState.Deferred,
                    Attempt = 1,
                    DueAt = now.UtcDateTime.AddSeconds(i - 2),
                    FirstAttemptAt = now.UtcDateTime.AddHours(-1),
                    ExpiresAt = now.UtcDateTime.AddDays(1),
                    Reason = "451 4.2.0 Mailbox busy",
                    OutcomeEventId = Guid.NewGuid(),
                    UpdatedAt = now.UtcDateTime.AddHours(-1),
                    Version = 2,
                });
            }

            return db.SaveChangesAsync();
        });

        // The broker restarts during the round: Alice's failure is confirmed, Bob's never is.
        var restart = host.Harness.Bus.ConnectPublishObserver(new UnconfirmedFailureOf("bob@example.com"));
        await Assert.ThrowsAsync<TimeoutException>(() => scheduler.RunOnceAsync(CancellationToken.None));
        restart.Disconnect();
        Assert.Equal(["alice@example.com"], host.Published<EmailFailed>().Select(f => f.Recipient));

        // A later round, with the broker back.
        clock.Advance(TimeSpan.FromMinutes(1));
        await scheduler.RunOnceAsync(CancellationToken.None);
        clock.Advance(TimeSpan.FromMinutes(1));
        await scheduler.RunOnceAsync(CancellationToken.None);

        var records = await host.QueryAsync(db => db.Deliveries.AsNoTracking().Where(d => d.EmailId == email.EmailId).ToListAsync());
        var failed = host.Published<EmailFailed>();
        Assert.All(records, r =>
        {
            Assert.Equal((DeliveryState.Failed, (DateTime?)null), (r.State, r.DueAt));
            // One event per recipient, the one the store holds, however often it went out.
            Assert.Equal([r.OutcomeEventId!.Value], failed.Where(f => f.Recipient == r.Recipient).Select(f => f.EventId).Distinct());
        });
        Assert.Equal(["alice@example.com", "bob@example.com"], failed.Select(f => f.Recipient).Distinct().Order());
        Assert.All(failed, f => Assert.StartsWith("Expired: still not delivered after 1 attempt(s)", f.Reason, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(TestStore.Postgres)]
    [InlineData(TestStore.Sqlite)]
    public async Task ExpiryCommittedButNeverPublishedIsPublishedByALaterRound(TestStore store)
    {
        var clock = new ManualClock(DateTimeOffset.UtcNow);
        await using var host = await DeliveryHost.StartAsync(ServiceProcess.FreeTcpPort(), store,
            settings: new Dictionary<string, string?> { ["Delivery:PublishTimeout"] = "00:00:10" },
            services: s => s.AddSingleton<TimeProvider>(clock));
        var scheduler = host.Services.GetServices<IHostedService>().OfType<RetryScheduler>().Single();
        await scheduler.StopAsync(CancellationToken.None);
        var now = clock.GetUtcNow().UtcDateTime;
        var email = TestEmails.Create();
        var eventId = Guid.NewGuid();
        // As a round leaves it when its worker dies between the commit and the publish: failed, with its event id, and
        // due again one Delivery:PublishTimeout later.
        await host.QueryAsync(db =>
        {
            db.Deliveries.Add(new DeliveryRecord
            {
                EmailId = email.EmailId,
                Recipient = "alice@example.com",
                State = DeliveryState.Failed,
                Attempt = 3,
                DueAt = now.AddSeconds(10),
                FirstAttemptAt = now.AddDays(-2),
                ExpiresAt = now,
                Reason = "Expired: still not delivered after 3 attempt(s).",
                OutcomeEventId = eventId,
                OutcomeAt = now,
                UpdatedAt = now,
                Version = 5,
            });
            return db.SaveChangesAsync();
        });

        await scheduler.RunOnceAsync(CancellationToken.None);
        Assert.Empty(host.Published<EmailFailed>());

        clock.Advance(TimeSpan.FromSeconds(11));
        await scheduler.RunOnceAsync(CancellationToken.None);
        clock.Advance(TimeSpan.FromMinutes(1));
        await scheduler.RunOnceAsync(CancellationToken.None);

        var failed = Assert.Single(host.Published<EmailFailed>());
        Assert.Equal((eventId, "alice@example.com", 3), (failed.EventId, failed.Recipient, failed.Attempt));
        var record = await host.QueryAsync(db => db.Deliveries.AsNoTracking().SingleAsync(d => d.EmailId == email.EmailId));
        Assert.Equal((DeliveryState.Failed, (DateTime?)null, eventId), (record.State, record.DueAt, record.OutcomeEventId));
    }

    [Theory]
    [InlineData(TestStore.Postgres)]
    [InlineData(TestStore.Sqlite)]
    public async Task ExpiryRetriedByAnOperatorRightAfterItsPublishStaysDueForTheRetry(TestStore store)
    {
        var clock = new ManualClock(DateTimeOffset.UtcNow);
        await using var host = await DeliveryHost.StartAsync(ServiceProcess.FreeTcpPort(), store,
            services: s => s.AddSingleton<TimeProvider>(clock));
        var scheduler = host.Services.GetServices<IHostedService>().OfType<RetryScheduler>().Single();
        await scheduler.StopAsync(CancellationToken.None);
        var now = clock.GetUtcNow();
        var email = TestEmails.Create() with { ExpiresAt = now.AddMinutes(-1) };
        await host.QueryAsync(db =>
        {
            db.RetryMessages.Add(DeliveryLedger.Kept(email, now.UtcDateTime.AddHours(-1), null));
            db.Deliveries.Add(new DeliveryRecord
            {
                EmailId = email.EmailId,
                Recipient = "alice@example.com",
                State = DeliveryState.Deferred,
                Attempt = 1,
                DueAt = now.UtcDateTime.AddSeconds(-1),
                FirstAttemptAt = now.UtcDateTime.AddHours(-1),
                ExpiresAt = now.UtcDateTime.AddDays(1),
                UpdatedAt = now.UtcDateTime.AddHours(-1),
                Version = 2,
            });
            return db.SaveChangesAsync();
        });

        // The operator retries her as soon as her failure is out, before the scheduler's round has ended.
        var retry = new RetryRecipients(Guid.NewGuid(), email.EmailId, ["alice@example.com"], now);
        using var retried = host.Harness.Bus.ConnectPublishObserver(new AfterFailureOf("alice@example.com", async () =>
        {
            await using var scope = host.Services.CreateAsyncScope();
            await scope.ServiceProvider.GetRequiredService<RecipientRetries>().RetryAsync(retry, CancellationToken.None);
        }));
        await scheduler.RunOnceAsync(CancellationToken.None);

        Assert.Single(host.Published<EmailFailed>());
        var record = await host.QueryAsync(db => db.Deliveries.AsNoTracking().SingleAsync(d => d.EmailId == email.EmailId));
        Assert.Equal(DeliveryState.Deferred, record.State);
        Assert.Equal(now.UtcDateTime, Assert.NotNull(record.DueAt), TimeSpan.FromMilliseconds(1));
    }

    /// <summary>
    /// The publish of <paramref name="recipient"/>'s failure waits for a confirm that never comes (a broker restart),
    /// until its token is cancelled, or for a minute at most.
    /// </summary>
    private sealed class UnconfirmedFailureOf(string recipient) : IPublishObserver
    {
        public Task PrePublish<T>(PublishContext<T> context) where T : class =>
            context.Message is EmailFailed failed && failed.Recipient == recipient
                ? Task.Delay(TimeSpan.FromMinutes(1), context.CancellationToken)
                : Task.CompletedTask;

        public Task PostPublish<T>(PublishContext<T> context) where T : class => Task.CompletedTask;

        public Task PublishFault<T>(PublishContext<T> context, Exception exception) where T : class => Task.CompletedTask;
    }

    /// <summary>Runs <paramref name="then"/> once <paramref name="recipient"/>'s failure has been published.</summary>
    private sealed class AfterFailureOf(string recipient, Func<Task> then) : IPublishObserver
    {
        public Task PrePublish<T>(PublishContext<T> context) where T : class => Task.CompletedTask;

        public Task PostPublish<T>(PublishContext<T> context) where T : class =>
            context.Message is EmailFailed failed && failed.Recipient == recipient ? then() : Task.CompletedTask;

        public Task PublishFault<T>(PublishContext<T> context, Exception exception) where T : class => Task.CompletedTask;
    }
}
