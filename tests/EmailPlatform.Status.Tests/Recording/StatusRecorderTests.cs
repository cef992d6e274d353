using EmailPlatform.Contracts;
using EmailPlatform.Status.Recording;
using EmailPlatform.Status.Storage;
using EmailPlatform.Status.Tests.Support;
using EmailPlatform.Status.Webhooks;
using MassTransit;
using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace EmailPlatform.Status.Tests.Recording;

/// <summary>The recorder against a real, migrated PostgreSQL database of its own per test.</summary>
public sealed class StatusRecorderTests
{
    private const string Alice = "alice@example.com";
    private const string Bob = "bob@example.com";

    [Fact]
    public async Task QueuedThenDeliveredToEveryRecipientMakesTheEmailDelivered()
    {
        await using var store = await StatusStore.PostgresAsync();
        var emailId = Guid.NewGuid();
        var queued = TestEvents.Accepted(emailId, to: ["Alice <Alice@Example.com>"], cc: [Bob]);
        var toAlice = TestEvents.Delivered(emailId, Alice, relay: "relay-a");
        var toBob = TestEvents.Delivered(emailId, Bob, relay: "relay-b");

        await store.RecordAsync(queued);
        await store.RecordAsync(toAlice);
        await store.RecordAsync(toBob);

        var email = await store.EmailAsync(emailId);
        Assert.Equal(EmailState.Delivered, email.State);
        Assert.Equal(("Acme <noreply@acme.test>", "Your receipt", queued.MessageId), (email.From, email.Subject, email.MessageId));
        Assert.Equal(queued.AcceptedAt.UtcDateTime, email.AcceptedAt!.Value, TimeSpan.FromMilliseconds(1));
        Assert.Equal(DateTimeKind.Utc, email.AcceptedAt.Value.Kind);
        Assert.Equal(["Alice <Alice@Example.com>"], email.To);
        Assert.Equal("receipt", Assert.Single(email.Tags).Value);
        Assert.Equal("A-1001", email.Metadata["order_id"]);

        var recipients = email.Recipients.OrderBy(r => r.Address, StringComparer.Ordinal).ToList();
        Assert.Equal([(Alice, "to"), (Bob, "cc")], recipients.Select(r => (r.Address, r.Kind)));
        Assert.All(recipients, r =>
        {
            Assert.Equal(EmailState.Delivered, r.State);
            Assert.Equal((1, 250, "2.0.0", "Ok: queued as 4F2A1"), (r.Attempt, r.SmtpCode, r.EnhancedCode, r.SmtpText));
            Assert.Null(r.NextAttemptAt);
        });

        var events = await store.EventsAsync(emailId);
        Assert.Equal(
            [(queued.EventId, EventTypes.Accepted, null, null, 0), (toAlice.EventId, "email.delivered", Alice, "relay-a", 1), (toBob.EventId, "email.delivered", Bob, "relay-b", 1)],
            events.Select(e => (e.Id, e.Type, e.Recipient, e.Relay, e.Attempt)));
        Assert.Equal((250, "2.0.0", "Ok: queued as 4F2A1"), (events[1].SmtpCode, events[1].EnhancedCode, events[1].SmtpText));
    }

    /// <summary>
    /// A raw send's From may name several mailboxes (RFC 5322 §3.6.2), together longer than an address column: the email
    /// is found by the first (its Message-ID's), and its From is kept as it came. It used to fail PostgreSQL's length check
    /// and go to the error queue, the email stuck at <c>sending</c>.
    /// </summary>
    [Fact]
    public async Task AnAcceptWhoseFromNamesSeveralMailboxesIsRecordedAndFoundByTheFirst()
    {
        await using var store = await StatusStore.PostgresAsync();
        var emailId = Guid.NewGuid();
        var from = string.Join(", ", Enumerable.Range(1, 3).Select(i =>
            $"\"{new string('x', 100)} {i}\" <Team-{i}-notifications-{new string('n', 60)}@Acme.test>"));
        Assert.True(from.Length > 320, from);

        await store.RecordAsync(TestEvents.Accepted(emailId, to: [Alice]) with { From = from });
        await store.RecordAsync(TestEvents.Delivered(emailId, Alice));

        var email = await store.EmailAsync(emailId);
        Assert.Equal((EmailState.Delivered, from), (email.State, email.From));
        Assert.Equal($"team-1-notifications-{new string('n', 60)}@acme.test", email.FromAddress);
    }

    [Fact]
    public async Task ScheduledEmailWaitsAsScheduledThenIsQueuedAndDelivered()
    {
        await using var store = await StatusStore.PostgresAsync();
        var emailId = Guid.NewGuid();
        var at = DateTimeOffset.UtcNow.AddMinutes(10);

        await store.RecordAsync(TestEvents.Accepted(emailId, to: [Alice], scheduledAt: at));
        var scheduled = await store.EmailAsync(emailId);
        Assert.Equal(EmailState.Scheduled, scheduled.State);
        Assert.Equal("scheduled", scheduled.State.ToLastEvent());
        Assert.Equal(at.UtcDateTime, scheduled.ScheduledAt!.Value, TimeSpan.FromMilliseconds(1));
        Assert.Equal(EmailState.Scheduled, Assert.Single(scheduled.Recipients).State);

        await store.RecordAsync(TestEvents.Queued(emailId));
        Assert.Equal(EmailState.Queued, (await store.EmailAsync(emailId)).State);

        await store.RecordAsync(TestEvents.Delivered(emailId, Alice));
        Assert.Equal(EmailState.Delivered, (await store.EmailAsync(emailId)).State);
        Assert.Equal([EventTypes.Scheduled, EventTypes.Queued, "email.delivered"], (await store.EventsAsync(emailId)).Select(e => e.Type));
    }

    [Fact]
    public async Task CanceledScheduledEmailIsCanceledForEveryRecipient()
    {
        await using var store = await StatusStore.PostgresAsync();
        var emailId = Guid.NewGuid();

        await store.RecordAsync(TestEvents.Accepted(emailId, to: [Alice], cc: [Bob], scheduledAt: DateTimeOffset.UtcNow.AddHours(1)));
        await store.RecordAsync(TestEvents.Canceled(emailId));

        var email = await store.EmailAsync(emailId);
        Assert.Equal(EmailState.Canceled, email.State);
        Assert.Equal("canceled", email.State.ToLastEvent());
        Assert.All(email.Recipients, r => Assert.Equal(EmailState.Canceled, r.State));
    }

    [Fact]
    public async Task CancelThatOvertakesTheAcceptStillCancelsTheEmail()
    {
        await using var store = await StatusStore.PostgresAsync();
        var emailId = Guid.NewGuid();

        await store.RecordAsync(TestEvents.Canceled(emailId));
        await store.RecordAsync(TestEvents.Accepted(emailId, to: [Alice], scheduledAt: DateTimeOffset.UtcNow.AddHours(1)));

        var email = await store.EmailAsync(emailId);
        Assert.Equal(EmailState.Canceled, email.State);
        Assert.Equal(EmailState.Canceled, Assert.Single(email.Recipients).State);
    }

    [Fact]
    public async Task RescheduledEmailShowsItsNewTime()
    {
        await using var store = await StatusStore.PostgresAsync();
        var emailId = Guid.NewGuid();
        var later = DateTimeOffset.UtcNow.AddDays(3);

        await store.RecordAsync(TestEvents.Accepted(emailId, to: [Alice], scheduledAt: DateTimeOffset.UtcNow.AddHours(1)));
        await store.RecordAsync(TestEvents.Rescheduled(emailId, later));

        var email = await store.EmailAsync(emailId);
        Assert.Equal(EmailState.Scheduled, email.State);
        Assert.Equal(later.UtcDateTime, email.ScheduledAt!.Value, TimeSpan.FromMilliseconds(1));
    }

    [Fact]
    public async Task EarlierRescheduleRecordedAfterALaterOneDoesNotUndoIt()
    {
        await using var store = await StatusStore.PostgresAsync();
        var emailId = Guid.NewGuid();
        var (second, third) = (DateTimeOffset.UtcNow.AddDays(2), DateTimeOffset.UtcNow.AddDays(3));
        var asked = DateTimeOffset.UtcNow;
        await store.RecordAsync(TestEvents.Accepted(emailId, to: [Alice], scheduledAt: DateTimeOffset.UtcNow.AddHours(1)));

        // Rescheduled to the second day, then to the third; the events arrive the other way round.
        await store.RecordAsync(new EmailRescheduled(NewId.NextGuid(), emailId, third, asked.AddSeconds(2)));
        await store.RecordAsync(new EmailRescheduled(NewId.NextGuid(), emailId, second, asked.AddSeconds(1)));
        Assert.Equal(third.UtcDateTime, (await store.EmailAsync(emailId)).ScheduledAt!.Value, TimeSpan.FromMilliseconds(1));

        // And in one batch.
        var fourth = DateTimeOffset.UtcNow.AddDays(4);
        await store.RecordBatchAsync(
            new EmailRescheduled(NewId.NextGuid(), emailId, fourth, asked.AddSeconds(4)),
            new EmailRescheduled(NewId.NextGuid(), emailId, second, asked.AddSeconds(3)));
        Assert.Equal(fourth.UtcDateTime, (await store.EmailAsync(emailId)).ScheduledAt!.Value, TimeSpan.FromMilliseconds(1));
    }

    [Fact]
    public async Task QueuedBeforeItsAcceptedEventStillEndsQueuedNotScheduled()
    {
        await using var store = await StatusStore.PostgresAsync();
        var emailId = Guid.NewGuid();

        await store.RecordAsync(TestEvents.Queued(emailId));
        await store.RecordAsync(TestEvents.Accepted(emailId, to: [Alice], scheduledAt: DateTimeOffset.UtcNow.AddSeconds(1)));

        Assert.Equal(EmailState.Queued, Assert.Single((await store.EmailAsync(emailId)).Recipients).State);
    }

    [Fact]
    public async Task RedeliveredEventIsRecordedOnce()
    {
        await using var store = await StatusStore.PostgresAsync();
        var emailId = Guid.NewGuid();
        var queued = TestEvents.Accepted(emailId, to: [Alice]);
        var delivered = TestEvents.Delivered(emailId, Alice);

        await store.RecordAsync(queued);
        await store.RecordAsync(queued);
        await store.RecordAsync(delivered);
        await store.RecordAsync(delivered);

        Assert.Equal(2, (await store.EventsAsync(emailId)).Count);
        Assert.Equal(1, await store.CountRecipientsAsync(emailId));
        var email = await store.EmailAsync(emailId);
        Assert.Equal(EmailState.Delivered, email.State);
        Assert.Equal(2, email.Version);
    }

    [Fact]
    public async Task EmailRepublishedByTheOutboxWithANewEventIdIsQueuedOnce()
    {
        await using var store = await StatusStore.PostgresAsync();
        var emailId = Guid.NewGuid();
        var queued = TestEvents.Accepted(emailId, to: [Alice]);

        await store.RecordAsync(queued);
        await store.RecordAsync(queued with { EventId = Guid.NewGuid() });

        var events = await store.EventsAsync(emailId);
        Assert.Equal(queued.EventId, Assert.Single(events).Id);
    }

    [Fact]
    public async Task OutcomeBeforeTheEmailsDetailsIsKeptButNotFinalUntilTheDetailsArrive()
    {
        await using var store = await StatusStore.PostgresAsync();
        var emailId = Guid.NewGuid();
        var delivered = TestEvents.Delivered(emailId, Alice);

        await store.RecordAsync(delivered);

        var early = await store.EmailAsync(emailId);
        Assert.Null(early.AcceptedAt);
        Assert.Null(early.Subject);
        Assert.False(early.State.IsTerminal(), $"An email whose recipients are not all known yet must not be final, was {early.State}.");
        Assert.Equal(EmailState.Delivered, Assert.Single(early.Recipients).State);
        Assert.Null(early.Recipients[0].Kind);

        await store.RecordAsync(TestEvents.Accepted(emailId, to: [Alice]));

        var email = await store.EmailAsync(emailId);
        Assert.Equal(EmailState.Delivered, email.State);
        Assert.Equal(("Your receipt", "Acme <noreply@acme.test>"), (email.Subject, email.From));
        Assert.NotNull(email.AcceptedAt);
        var recipient = Assert.Single(email.Recipients);
        Assert.Equal(("to", EmailState.Delivered, 250), (recipient.Kind, recipient.State, recipient.SmtpCode));
    }

    [Fact]
    public async Task OutcomeBeforeTheDetailsDoesNotFinishAnEmailWithOtherRecipientsStillPending()
    {
        await using var store = await StatusStore.PostgresAsync();
        var emailId = Guid.NewGuid();

        await store.RecordAsync(TestEvents.Delivered(emailId, Alice));
        await store.RecordAsync(TestEvents.Accepted(emailId, to: [Alice, Bob]));

        var email = await store.EmailAsync(emailId);
        Assert.Equal(EmailState.Queued, email.State);
        Assert.Equal(EmailState.Queued, email.Recipients.Single(r => r.Address == Bob).State);
    }

    [Fact]
    public async Task LateDeferralOfTheSameAttemptDoesNotUndoADelivery()
    {
        await using var store = await StatusStore.PostgresAsync();
        var emailId = Guid.NewGuid();
        var lateDeferral = TestEvents.Deferred(emailId, Alice, attempt: 1, nextAttemptAt: DateTimeOffset.UtcNow.AddMinutes(5));

        await store.RecordAsync(TestEvents.Accepted(emailId, to: [Alice]));
        await store.RecordAsync(TestEvents.Delivered(emailId, Alice, attempt: 1));
        await store.RecordAsync(lateDeferral);

        var email = await store.EmailAsync(emailId);
        Assert.Equal(EmailState.Delivered, email.State);
        var recipient = Assert.Single(email.Recipients);
        Assert.Equal((EmailState.Delivered, 250), (recipient.State, recipient.SmtpCode));
        Assert.Null(recipient.Reason);
        Assert.Null(recipient.NextAttemptAt);
        Assert.Contains(await store.EventsAsync(emailId), e => e.Id == lateDeferral.EventId && e.Type == "email.deferred");
    }

    /// <summary>
    /// Events that came after what superseded them are on the timeline, but send no webhook: a receiver that keeps the
    /// latest webhook as the status would go back to <c>deferred</c> after <c>delivered</c> (with a retry that never
    /// comes), or to a reschedule's older time.
    /// </summary>
    [Theory]
    [InlineData("postgres")]
    [InlineData("sqlite")]
    public async Task AnEventThatCameAfterWhatSupersededItSendsNoWebhook(string provider)
    {
        await using var store = provider == "postgres" ? await StatusStore.PostgresAsync() : await StatusStore.SqliteAsync();
        await using (var db = store.NewContext())
        {
            db.WebhookSubscriptions.Add(new WebhookSubscriptionRecord
            {
                Id = Guid.NewGuid(), Url = "https://hooks.example.com/email", Secret = "whsec_dGVzdA==",
                Events = ["email.delivered", "email.deferred", "email.scheduled", "email.queued"],
            });
            await db.SaveChangesAsync();
        }

        var (delivered, scheduled, due) = (Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid());
        var lateDeferral = TestEvents.Deferred(delivered, Alice, attempt: 1, nextAttemptAt: DateTimeOffset.UtcNow.AddMinutes(5));
        var (firstTime, secondTime) = (DateTimeOffset.UtcNow.AddDays(1), DateTimeOffset.UtcNow.AddDays(2));
        var first = TestEvents.Rescheduled(scheduled, firstTime) with { Timestamp = DateTimeOffset.UtcNow.AddSeconds(-10) };
        var second = TestEvents.Rescheduled(scheduled, secondTime);
        await store.RecordBatchAsync(TestEvents.Accepted(delivered, to: [Alice]), TestEvents.Accepted(scheduled, to: [Bob], scheduledAt: firstTime));
        await store.RecordBatchAsync(TestEvents.Delivered(delivered, Alice, attempt: 1), second);
        await store.RecordBatchAsync(lateDeferral, first);

        // A scheduled email's EmailQueued overtaken by its delivery; and one that came in time.
        var (lateQueued, queued) = (new EmailQueued(NewId.NextGuid(), due, DateTimeOffset.UtcNow), new EmailQueued(NewId.NextGuid(), scheduled, DateTimeOffset.UtcNow));
        await store.RecordBatchAsync(TestEvents.Accepted(due, to: [Alice], scheduledAt: DateTimeOffset.UtcNow.AddMinutes(-1)));
        await store.RecordBatchAsync(TestEvents.Delivered(due, Alice));
        await store.RecordBatchAsync(lateQueued, queued);

        // A scheduled email rescheduled before its accept was recorded: the accept's email.scheduled, with the time it
        // was first given, does not follow the reschedule's.
        var early = Guid.NewGuid();
        var (earlyAccepted, earlyRescheduled) = (TestEvents.Accepted(early, to: [Bob], scheduledAt: firstTime), TestEvents.Rescheduled(early, secondTime));
        await store.RecordBatchAsync(earlyRescheduled);
        await store.RecordBatchAsync(earlyAccepted);

        // An email sent at once whose delivery was recorded before its accept: its email.queued comes with the accept,
        // as its email.accepted does.
        var atOnce = Guid.NewGuid();
        var atOnceQueued = new EmailQueued(NewId.NextGuid(), atOnce, DateTimeOffset.UtcNow);
        await store.RecordBatchAsync(TestEvents.Delivered(atOnce, Alice));
        await store.RecordBatchAsync(TestEvents.Accepted(atOnce, to: [Alice]), atOnceQueued);

        await using var check = store.NewContext();
        var deliveries = await check.WebhookDeliveries.Select(d => d.EventId).ToListAsync();
        Assert.Contains(second.EventId, deliveries);
        Assert.DoesNotContain(lateDeferral.EventId, deliveries);
        Assert.DoesNotContain(first.EventId, deliveries);
        Assert.DoesNotContain(lateQueued.EventId, deliveries);
        Assert.Contains(queued.EventId, deliveries);
        Assert.Contains(atOnceQueued.EventId, deliveries);
        Assert.Contains(earlyRescheduled.EventId, deliveries);
        Assert.DoesNotContain(earlyAccepted.EventId, deliveries);
        Assert.Equal(secondTime.UtcDateTime, (await store.EmailAsync(early)).ScheduledAt!.Value, TimeSpan.FromMilliseconds(1));
        Assert.Contains(await store.EventsAsync(delivered), e => e.Id == lateDeferral.EventId);
        Assert.Contains(await store.EventsAsync(scheduled), e => e.Id == first.EventId);
        Assert.Equal(secondTime.UtcDateTime, (await store.EmailAsync(scheduled)).ScheduledAt!.Value, TimeSpan.FromMilliseconds(1));
    }

    [Fact]
    public async Task DeferredRecipientDeliveredOnTheNextAttemptAndOtherBouncedMakesTheEmailBounced()
    {
        await using var store = await StatusStore.PostgresAsync();
        var emailId = Guid.NewGuid();

        await store.RecordAsync(TestEvents.Accepted(emailId, to: [Alice, Bob]));
        await store.RecordAsync(TestEvents.Deferred(emailId, Alice, attempt: 1, nextAttemptAt: DateTimeOffset.UtcNow.AddMinutes(1)));
        Assert.Equal(EmailState.Deferred, (await store.EmailAsync(emailId)).State);

        await store.RecordAsync(TestEvents.Delivered(emailId, Alice, attempt: 2));
        var afterRetry = await store.EmailAsync(emailId);
        var alice = afterRetry.Recipients.Single(r => r.Address == Alice);
        Assert.Equal((EmailState.Delivered, 2, 250), (alice.State, alice.Attempt, alice.SmtpCode));
        Assert.Null(alice.Reason);
        Assert.Null(alice.NextAttemptAt);
        Assert.Equal(EmailState.Queued, afterRetry.State);

        await store.RecordAsync(TestEvents.Bounced(emailId, Bob));

        var email = await store.EmailAsync(emailId);
        Assert.Equal(EmailState.Bounced, email.State);
        var bob = email.Recipients.Single(r => r.Address == Bob);
        Assert.Equal((EmailState.Bounced, 550, "5.1.1", "User unknown"), (bob.State, bob.SmtpCode, bob.EnhancedCode, bob.SmtpText));
        Assert.Equal(
            ["email.accepted", "email.deferred", "email.delivered", "email.bounced"],
            (await store.EventsAsync(emailId)).Select(e => e.Type));
    }

    [Fact]
    public async Task FailedRecipientRetriedByAnOperatorShowsTheRetrysAttemptsButNotLateOnesOfTheFailedAttempt()
    {
        await using var store = await StatusStore.PostgresAsync();
        var emailId = Guid.NewGuid();
        await store.RecordAsync(TestEvents.Accepted(emailId, to: [Alice]));
        await store.RecordAsync(new EmailFailed(NewId.NextGuid(), emailId, Alice, "relay-a", 9, null, "retry window expired", DateTimeOffset.UtcNow));
        Assert.Equal(EmailState.Failed, (await store.EmailAsync(emailId)).State);

        // POST /v1/bulk/retry: the workers try again from attempt 10. A late copy of attempt 9's deferral changes nothing.
        await store.RecordAsync(TestEvents.Deferred(emailId, Alice, attempt: 9, nextAttemptAt: DateTimeOffset.UtcNow.AddMinutes(1)));
        Assert.Equal(EmailState.Failed, (await store.EmailAsync(emailId)).State);
        await store.RecordAsync(TestEvents.Deferred(emailId, Alice, attempt: 10, nextAttemptAt: DateTimeOffset.UtcNow.AddMinutes(1)));
        Assert.Equal(EmailState.Deferred, (await store.EmailAsync(emailId)).State);
        await store.RecordAsync(TestEvents.Delivered(emailId, Alice, attempt: 11));

        var email = await store.EmailAsync(emailId);
        Assert.Equal(EmailState.Delivered, email.State);
        var alice = Assert.Single(email.Recipients);
        Assert.Equal((EmailState.Delivered, 11, 250), (alice.State, alice.Attempt, alice.SmtpCode));
        Assert.Null(alice.Reason);
        Assert.Equal(
            ["email.accepted", "email.failed", "email.deferred", "email.deferred", "email.delivered"],
            (await store.EventsAsync(emailId)).Select(e => e.Type));
    }

    [Fact]
    public async Task FailedRecipientSuppressedBeforeAnOperatorsRetryShowsSuppressedWithTheRetrysAttempt()
    {
        await using var store = await StatusStore.PostgresAsync();
        var emailId = Guid.NewGuid();
        await store.RecordAsync(TestEvents.Accepted(emailId, to: [Alice]));
        await store.RecordAsync(new EmailFailed(NewId.NextGuid(), emailId, Alice, "relay-a", 3, null, "retry window expired", DateTimeOffset.UtcNow));

        // The operator suppresses the address, then retries (POST /v1/bulk/retry): the worker finds the suppression
        // before attempt 4's SMTP transaction and reports it with that attempt's number.
        await store.RecordAsync(new EmailSuppressed(NewId.NextGuid(), emailId, Alice, "Added by API", DateTimeOffset.UtcNow) { Attempt = 4 });

        var email = await store.EmailAsync(emailId);
        Assert.Equal(EmailState.Suppressed, email.State);
        var alice = Assert.Single(email.Recipients);
        Assert.Equal((EmailState.Suppressed, 4, "Added by API"), (alice.State, alice.Attempt, alice.Reason));
        Assert.Equal(4, (await store.EventsAsync(emailId)).Single(e => e.Type == "email.suppressed").Attempt);
    }

    [Fact]
    public async Task ASuppressionOrALateFinalOutcomeNeverLowersTheAttemptsARecipientShows()
    {
        await using var store = await StatusStore.PostgresAsync();
        var emailId = Guid.NewGuid();
        await store.RecordAsync(TestEvents.Accepted(emailId, to: [Alice, Bob]));
        await store.RecordAsync(TestEvents.Deferred(emailId, Alice, attempt: 3, nextAttemptAt: DateTimeOffset.UtcNow.AddMinutes(30)));
        await store.RecordAsync(TestEvents.Deferred(emailId, Bob, attempt: 3, nextAttemptAt: DateTimeOffset.UtcNow.AddMinutes(30)));

        // A suppression as a worker published it before events carried their attempt (0), and attempt 2's 250 reported late.
        await store.RecordAsync(new EmailSuppressed(NewId.NextGuid(), emailId, Alice, "Added by API", DateTimeOffset.UtcNow));
        await store.RecordAsync(TestEvents.Delivered(emailId, Bob, attempt: 2));

        var recipients = (await store.EmailAsync(emailId)).Recipients.ToDictionary(r => r.Address, r => (r.State, r.Attempt));
        Assert.Equal((EmailState.Suppressed, 3), recipients[Alice]);
        Assert.Equal((EmailState.Delivered, 3), recipients[Bob]);
    }

    [Fact]
    public async Task DeferredRecipientShowsTheReasonAndWhenTheNextAttemptIsDue()
    {
        await using var store = await StatusStore.PostgresAsync();
        var emailId = Guid.NewGuid();
        var nextAttemptAt = DateTimeOffset.UtcNow.AddMinutes(15);
        var deferred = TestEvents.Deferred(emailId, Alice, attempt: 1, nextAttemptAt: nextAttemptAt);

        await store.RecordAsync(TestEvents.Accepted(emailId, to: [Alice]));
        await store.RecordAsync(deferred);

        var email = await store.EmailAsync(emailId);
        Assert.Equal(EmailState.Deferred, email.State);
        var recipient = Assert.Single(email.Recipients);
        Assert.Equal(EmailState.Deferred, recipient.State);
        Assert.Equal("greylisted by the recipient's server", recipient.Reason);
        Assert.Equal((451, "4.7.1"), (recipient.SmtpCode, recipient.EnhancedCode));
        Assert.Equal(nextAttemptAt.UtcDateTime, recipient.NextAttemptAt!.Value, TimeSpan.FromMilliseconds(1));
        Assert.Equal(DateTimeKind.Utc, recipient.NextAttemptAt.Value.Kind);
        var recorded = (await store.EventsAsync(emailId)).Single(e => e.Id == deferred.EventId);
        Assert.Equal(("greylisted by the recipient's server", "relay-a"), (recorded.Reason, recorded.Relay));
        Assert.Equal(nextAttemptAt.UtcDateTime, recorded.NextAttemptAt!.Value, TimeSpan.FromMilliseconds(1));
    }

    [Fact]
    public async Task ConcurrentOutcomesForABrandNewEmailBothEndUpRecordedAfterTheLosersRetry()
    {
        await using var store = await StatusStore.PostgresAsync();
        var emailId = Guid.NewGuid();
        var toAlice = TestEvents.Delivered(emailId, Alice);
        var toBob = TestEvents.Bounced(emailId, Bob);

        // There is no row to lock yet: both writers insert the email, the second waits for the first's insert and then
        // fails on the key instead of overwriting it.
        var hold = new HoldUntilAnotherWriterWaits(store.PostgresConnectionString!);
        var first = store.RecordAsync(toAlice, hold);
        await hold.Holding.WaitAsync(TimeSpan.FromSeconds(60));
        var second = store.RecordAsync(toBob);
        await first.WaitAsync(TimeSpan.FromSeconds(90));
        var conflict = await Assert.ThrowsAsync<PostgresException>(() => second.WaitAsync(TimeSpan.FromSeconds(90)));
        Assert.Equal(PostgresErrorCodes.UniqueViolation, conflict.SqlState);

        // The loser wrote nothing: only the winner's email row, recipient and event are there.
        var between = await store.EmailAsync(emailId);
        Assert.Equal(1, between.Version);
        Assert.Equal(Alice, Assert.Single(between.Recipients).Address);
        Assert.Equal(Alice, Assert.Single(await store.EventsAsync(emailId)).Recipient);

        // The writer (or the consumer's retry policy) records it again on a fresh scope.
        await store.RecordAsync(toBob);

        var email = await store.EmailAsync(emailId);
        Assert.Equal(2, email.Version);
        Assert.Equal(
            [(Alice, EmailState.Delivered, 250), (Bob, EmailState.Bounced, 550)],
            email.Recipients.OrderBy(r => r.Address, StringComparer.Ordinal).Select(r => (r.Address, r.State, r.SmtpCode)));
        Assert.Equal(2, (await store.EventsAsync(emailId)).Count);
        Assert.False(email.State.IsTerminal());

        await store.RecordAsync(TestEvents.Accepted(emailId, to: [Alice, Bob]));
        Assert.Equal(EmailState.Bounced, (await store.EmailAsync(emailId)).State);
    }

    [Theory]
    [InlineData(false, "postgres")]
    [InlineData(true, "postgres")]
    [InlineData(false, "sqlite")]
    [InlineData(true, "sqlite")]
    public async Task WebhooksOfOutcomesRecordedBeforeTheEmailsDetailsCarryTheDetailsOnceTheyArriveAndAreDueAtOnce(bool sameBatch, string provider)
    {
        await using var store = provider == "postgres" ? await StatusStore.PostgresAsync() : await StatusStore.SqliteAsync();
        await using (var db = store.NewContext())
        {
            db.WebhookSubscriptions.Add(new WebhookSubscriptionRecord
            {
                Id = Guid.NewGuid(), Url = "https://hooks.example.com/email", Secret = "whsec_dGVzdA==", Events = ["email.delivered", "email.queued"],
            });
            await db.SaveChangesAsync();
        }

        var emailId = Guid.NewGuid();
        var (delivered, accepted) = (TestEvents.Delivered(emailId, Alice), TestEvents.Accepted(emailId, to: [Alice]));
        if (sameBatch)
        {
            await store.RecordBatchAsync(delivered, accepted);
        }
        else
        {
            await store.RecordAsync(delivered);
            await using (var between = store.NewContext())
            {
                // Waiting for the details, which it lacks.
                var waiting = await between.WebhookDeliveries.SingleAsync();
                Assert.True(waiting.WithoutDetails);
                Assert.Equal(waiting.CreatedAt + new WebhookOptions().DetailsWait, waiting.NextAttemptAt);
                Assert.Equal(WebhookOutbox.WaitingForDetails, waiting.LastError);
            }

            await store.RecordAsync(accepted);
        }

        await using var check = store.NewContext();
        var delivery = Assert.Single(check.WebhookDeliveries, d => d.EventType == "email.delivered");
        // Due at once, as though it had never waited.
        Assert.Equal((false, (DateTime?)delivery.CreatedAt, (string?)null), (delivery.WithoutDetails, delivery.NextAttemptAt, delivery.LastError));
        var data = System.Text.Json.JsonDocument.Parse(delivery.Payload).RootElement.GetProperty("data");
        Assert.Equal("A-1001", data.GetProperty("metadata").GetProperty("order_id").GetString());
        Assert.Equal("receipt", data.GetProperty("tags")[0].GetProperty("value").GetString());
        Assert.Equal(Alice, data.GetProperty("to")[0].GetString());
        Assert.Equal(("Your receipt", accepted.MessageId), (data.GetProperty("subject").GetString(), data.GetProperty("message_id").GetString()));
    }

    [Fact]
    public async Task TheEnvelopesAddressesAreTheRecipientsWhenTheHeadersNameOthers()
    {
        await using var store = await StatusStore.PostgresAsync();
        var emailId = Guid.NewGuid();

        // A raw send: its headers name an empty group, a list and a group with Carol, its envelope Alice (also in Cc),
        // Carol and Bob (in no header).
        const string Carol = "carol@example.com";
        string[] to = ["undisclosed-recipients: ;", "team@lists.example.com", $"Friends: Carol <{Carol}>;"];
        await store.RecordAsync(TestEvents.Accepted(emailId, to: to, cc: [$"Alice <{Alice}>"]) with { Recipients = [Alice, Bob, Carol] });
        await store.RecordAsync(TestEvents.Delivered(emailId, Alice));
        await store.RecordAsync(TestEvents.Delivered(emailId, Bob));
        await store.RecordAsync(TestEvents.Delivered(emailId, Carol));

        var email = await store.EmailAsync(emailId);
        Assert.Equal(EmailState.Delivered, email.State);
        Assert.Equal([(Alice, "cc"), (Bob, "bcc"), (Carol, "to")], email.Recipients.Select(r => (r.Address, r.Kind!)).Order());
        Assert.Equal(to, email.To);
    }

    [Fact]
    public async Task AnEmailCreatedByAnotherWriterBetweenABatchsLockAndItsReadIsLockedAndReadAgain()
    {
        await using var store = await StatusStore.PostgresAsync();
        var emailId = Guid.NewGuid();

        // The first writer records Alice's delivery of an email that does not exist yet, so its lock takes nothing.
        // Between its lock and its read the email is created; between its read and its write Bob's delivery commits,
        // unhindered. Written from that read, the email would keep Bob queued and never be delivered.
        var pauses = new PauseAfterCommands("FOR UPDATE", "FROM emails");
        var first = store.RecordAsync(TestEvents.Delivered(emailId, Alice), pauses);
        await pauses.Paused(0).WaitAsync(TimeSpan.FromSeconds(60));
        await store.RecordAsync(TestEvents.Accepted(emailId, to: [Alice, Bob]));
        pauses.Resume(0);
        await pauses.Paused(1).WaitAsync(TimeSpan.FromSeconds(60));
        var toBob = store.RecordAsync(TestEvents.Delivered(emailId, Bob));
        // Bob's delivery commits, or waits for the first writer's lock if it has one, before the first writer goes on.
        using (var committedOrWaiting = new CancellationTokenSource())
        {
            await Task.WhenAny(toBob, LockWaits.AnyAsync(store.PostgresConnectionString!, committedOrWaiting.Token)).WaitAsync(TimeSpan.FromSeconds(60));
            await committedOrWaiting.CancelAsync();
        }

        pauses.Resume(1);
        await Task.WhenAll(first, toBob).WaitAsync(TimeSpan.FromSeconds(90));

        var email = await store.EmailAsync(emailId);
        Assert.Equal(EmailState.Delivered, email.State);
        Assert.All(email.Recipients, r => Assert.Equal(EmailState.Delivered, r.State));
        Assert.Equal(3, (await store.EventsAsync(emailId)).Count);
    }

    [Fact]
    public async Task ConcurrentBatchesForAKnownEmailWaitForEachOtherAndBothApply()
    {
        await using var store = await StatusStore.PostgresAsync();
        var emailId = Guid.NewGuid();
        await store.RecordAsync(TestEvents.Accepted(emailId, to: [Alice, Bob]));
        var toAlice = TestEvents.Delivered(emailId, Alice);
        var toBob = TestEvents.Delivered(emailId, Bob);

        // The first writer holds its lock on the email until the second is seen waiting for it; without the lock
        // the second would read the stale recipients and either fail on the version or derive the wrong state.
        var hold = new HoldUntilAnotherWriterWaits(store.PostgresConnectionString!);
        var first = store.RecordAsync(toAlice, hold);
        await hold.Holding.WaitAsync(TimeSpan.FromSeconds(60));
        var second = store.RecordAsync(toBob);
        await Task.WhenAll(first, second).WaitAsync(TimeSpan.FromSeconds(90));

        var email = await store.EmailAsync(emailId);
        Assert.Equal((3, EmailState.Delivered), (email.Version, email.State));
        Assert.All(email.Recipients, r => Assert.Equal(EmailState.Delivered, r.State));
        Assert.Equal(3, (await store.EventsAsync(emailId)).Count);
    }

    [Fact]
    public async Task OneBatchRecordsEventsOfManyEmailsInOrderAndSkipsDuplicates()
    {
        await using var store = await StatusStore.PostgresAsync();
        var (one, two) = (Guid.NewGuid(), Guid.NewGuid());
        var delivered = TestEvents.Delivered(one, Alice);
        var lateDeferral = TestEvents.Deferred(one, Alice, attempt: 1, nextAttemptAt: DateTimeOffset.UtcNow.AddMinutes(5));
        var queuedFirst = TestEvents.Queued(two);

        await store.RecordBatchAsync(
            delivered, TestEvents.Accepted(one, to: [Alice]), lateDeferral, delivered,
            queuedFirst, TestEvents.Accepted(two, to: [Bob], scheduledAt: DateTimeOffset.UtcNow.AddHours(1)), TestEvents.Bounced(two, Bob));
        await store.RecordBatchAsync(delivered, lateDeferral);

        var first = await store.EmailAsync(one);
        Assert.Equal((EmailState.Delivered, 1), (first.State, first.Version));
        Assert.Equal((EmailState.Delivered, 250), (Assert.Single(first.Recipients).State, first.Recipients[0].SmtpCode));
        Assert.Equal(["email.accepted", "email.deferred", "email.delivered"], (await store.EventsAsync(one)).Select(e => e.Type).Order());
        var second = await store.EmailAsync(two);
        Assert.Equal((EmailState.Bounced, "to"), (second.State, Assert.Single(second.Recipients).Kind));
        Assert.Equal(["email.bounced", "email.queued", "email.scheduled"], (await store.EventsAsync(two)).Select(e => e.Type).Order());
        await using var db = store.NewContext();
        Assert.Equal(Bob, Assert.Single(db.Suppressions).Address);
    }

    /// <summary>
    /// Each accept that overtook its outcomes looks up the webhook deliveries and events its batch tracks: that must not
    /// run EF Core's change detection over everything the batch tracks each time, which made such a batch quadratic.
    /// </summary>
    [Fact]
    public async Task AcceptsThatOvertookTheirOutcomesDoNotEachRunChangeDetectionOverTheBatch()
    {
        await using var store = await StatusStore.PostgresAsync();
        var ids = Enumerable.Range(0, 20).Select(_ => Guid.NewGuid()).ToList();
        await store.RecordBatchAsync([.. ids.Select(id => (object)TestEvents.Delivered(id, Alice))]);

        using var detections = new ChangeDetections();
        await detections.CountAsync(() => store.RecordBatchAsync([.. ids.Select(id => (object)TestEvents.Accepted(id, to: [Alice]))]));

        // The batch's own SaveChanges detects once (more on a retry); one per accept was 20 more.
        Assert.InRange(detections.Count, 0, 3);
        foreach (var id in ids)
        {
            Assert.Equal(EmailState.Delivered, (await store.EmailAsync(id)).State);
        }
    }

    /// <summary>Counts EF Core's DetectChanges runs made by the code <see cref="CountAsync"/> runs, and by nothing else in the process.</summary>
    private sealed class ChangeDetections : IObserver<System.Diagnostics.DiagnosticListener>, IObserver<KeyValuePair<string, object?>>, IDisposable
    {
        private static readonly AsyncLocal<ChangeDetections?> Counting = new();
        private readonly IDisposable _all;
        private readonly List<IDisposable> _listeners = [];
        private int _count;

        public ChangeDetections() => _all = System.Diagnostics.DiagnosticListener.AllListeners.Subscribe(this);

        public int Count => Volatile.Read(ref _count);

        public async Task CountAsync(Func<Task> action)
        {
            Counting.Value = this;
            try
            {
                await action();
            }
            finally
            {
                Counting.Value = null;
            }
        }

        public void OnNext(System.Diagnostics.DiagnosticListener value)
        {
            if (value.Name == Microsoft.EntityFrameworkCore.DbLoggerCategory.Name)
            {
                lock (_listeners)
                {
                    _listeners.Add(value.Subscribe(this));
                }
            }
        }

        public void OnNext(KeyValuePair<string, object?> value)
        {
            if (value.Key == Microsoft.EntityFrameworkCore.Diagnostics.CoreEventId.DetectChangesStarting.Name && Counting.Value == this)
            {
                Interlocked.Increment(ref _count);
            }
        }

        public void OnCompleted()
        {
        }

        public void OnError(Exception error)
        {
        }

        public void Dispose()
        {
            _all.Dispose();
            lock (_listeners)
            {
                _listeners.ForEach(l => l.Dispose());
            }
        }
    }
}
