using EmailPlatform.Delivery.Claims;
using EmailPlatform.Delivery.Relays;
using EmailPlatform.Delivery.Retries;
using EmailPlatform.Delivery.Smtp;
using EmailPlatform.Delivery.Storage;
using EmailPlatform.Delivery.Tests.Support;
using EmailPlatform.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.Extensions.Options;

namespace EmailPlatform.Delivery.Tests.Claims;

/// <summary>
/// The ledger's own PostgreSQL statements (the one-statement claim and outcome write, group-committed across messages
/// by <see cref="LedgerWrites"/>) keep the guarantees of the EF Core path they shortcut: a claim never overwrites
/// another, a taken-over claim cannot record its outcome, and a recorded outcome is found again by the next claim
/// instead of being sent.
/// </summary>
public sealed class LedgerStatementTests : IAsyncLifetime
{
    private TemporaryDatabase _database = null!;
    private LedgerWrites _writes = null!;
    private readonly RetrySignal _signal = new();

    public async Task InitializeAsync()
    {
        _database = await TemporaryDatabase.CreateAsync();
        await using var db = NewContext();
        await db.Database.MigrateAsync();
        _writes = new LedgerWrites(_database.ConnectionString);
    }

    public async Task DisposeAsync()
    {
        await _writes.DisposeAsync();
        _signal.Dispose();
        await _database.DisposeAsync();
    }

    [Fact]
    public async Task FreshClaimIsRecordedOnceAndARedeliveryIsNotSentAgain()
    {
        var email = TestEmails.Create(to: ["alice@example.com"]);
        await using (var db = NewContext())
        {
            var ledger = NewLedger(db);
            var claim = await ledger.ClaimAsync(email, DeliveryLedger.RecipientsOf(email), CancellationToken.None);
            Assert.True(claim.Fresh);
            var record = Assert.Single(claim.ToSend);
            Assert.Equal((DeliveryState.Sending, 1), (record.State, record.Attempt));

            var recorded = await ledger.RecordAsync(email, claim, "sink", [Delivered("alice@example.com")]);
            Assert.Equal(DeliveryState.Delivered, Assert.Single(recorded).State);
        }

        await using (var db = NewContext())
        {
            var stored = await db.Deliveries.AsNoTracking().SingleAsync();
            Assert.Equal((DeliveryState.Delivered, (Guid?)null, (DateTime?)null, 250, "sink", 2), (stored.State, stored.ClaimId, stored.DueAt, stored.ReplyCode, stored.Relay, stored.Version));

            var again = await NewLedger(db).ClaimAsync(email, DeliveryLedger.RecipientsOf(email), CancellationToken.None);
            Assert.Empty(again.ToSend);
            Assert.Equal(stored.OutcomeEventId, Assert.Single(again.AlreadyRecorded).OutcomeEventId);
        }
    }

    [Fact]
    public async Task TakenOverClaimCannotRecordItsOutcome()
    {
        var email = TestEmails.Create(to: ["alice@example.com"]);
        await using var db = NewContext();
        var ledger = NewLedger(db);
        var claim = await ledger.ClaimAsync(email, DeliveryLedger.RecipientsOf(email), CancellationToken.None);

        // The retry scheduler's takeover: the claim is cleared and the version moves on.
        await using (var other = NewContext())
        {
            await other.Deliveries.ExecuteUpdateAsync(set => set
                .SetProperty(d => d.State, DeliveryState.Queued).SetProperty(d => d.ClaimId, (Guid?)null).SetProperty(d => d.Version, d => d.Version + 1));
        }

        await Assert.ThrowsAsync<DbUpdateConcurrencyException>(() => ledger.RecordAsync(email, claim, "sink", [Delivered("alice@example.com")]));
        await using var check = NewContext();
        Assert.Equal(DeliveryState.Queued, (await check.Deliveries.AsNoTracking().SingleAsync()).State);
    }

    [Fact]
    public async Task ClaimOfPartlyKnownEmailKeepsOtherClaimsAndSendsOnlyTheNewRecipient()
    {
        var first = TestEmails.Create(to: ["alice@example.com"]);
        var both = first with { Envelope = first.Envelope with { RcptTo = ["alice@example.com", "bob@example.com"] } };
        await using var db = NewContext();
        var held = await NewLedger(db).ClaimAsync(first, DeliveryLedger.RecipientsOf(first), CancellationToken.None);

        await using var second = NewContext();
        var claim = await NewLedger(second).ClaimAsync(both, DeliveryLedger.RecipientsOf(both), CancellationToken.None);

        Assert.False(claim.Fresh);
        Assert.Equal("bob@example.com", Assert.Single(claim.ToSend).Recipient);
        await using var check = NewContext();
        var alice = await check.Deliveries.AsNoTracking().SingleAsync(d => d.Recipient == "alice@example.com");
        Assert.Equal(held.ClaimId, alice.ClaimId);
        Assert.True(await check.RetryMessages.AnyAsync(), "the command is kept for the live claim held elsewhere");
    }

    [Fact]
    public async Task ConcurrentMessagesAreClaimedAndRecordedTogetherEachWithOnlyItsOwnRecipients()
    {
        var emails = Enumerable.Range(0, 60)
            .Select(i => TestEmails.Create(to: [$"r{i}@example.com", $"s{i}@example.com"]))
            .ToList();

        var results = await Task.WhenAll(emails.Select(async email =>
        {
            await using var db = NewContext();
            var ledger = NewLedger(db);
            var claim = await ledger.ClaimAsync(email, DeliveryLedger.RecipientsOf(email), CancellationToken.None);
            Assert.True(claim.Fresh);
            Assert.Equal(email.Envelope.RcptTo.Order(), claim.ToSend.Select(r => r.Recipient).Order());
            Assert.All(claim.ToSend, r => Assert.Equal(claim.ClaimId, r.ClaimId));
            var outcomes = email.Envelope.RcptTo.Select(Delivered).ToList();
            return await ledger.RecordAsync(email, claim, "sink", outcomes);
        }));

        Assert.All(results, recorded => Assert.Equal(2, recorded.Count));
        await using var check = NewContext();
        var stored = await check.Deliveries.AsNoTracking().ToListAsync();
        Assert.Equal(120, stored.Count);
        Assert.All(stored, d => Assert.Equal((DeliveryState.Delivered, (Guid?)null, 2), (d.State, d.ClaimId, d.Version)));
        Assert.Equal(120, stored.Select(d => d.OutcomeEventId).Distinct().Count());
    }

    [Fact]
    public async Task DuplicatedCommandClaimedConcurrentlyIsClaimedOnce()
    {
        var email = TestEmails.Create(to: ["alice@example.com", "bob@example.com"]);

        // Every claim succeeds: the ones finding the recipients claimed elsewhere all keep the command, which only
        // one of them can insert; the others update it instead of failing.
        var claims = await Task.WhenAll(Enumerable.Range(0, 8).Select(async _ =>
        {
            await using var db = NewContext();
            return (await NewLedger(db).ClaimAsync(email, DeliveryLedger.RecipientsOf(email), CancellationToken.None)).ToSend
                .Select(r => r.Recipient).ToList();
        }));

        Assert.Equal(["alice@example.com", "bob@example.com"], claims.SelectMany(c => c).Order());
        await using var check = NewContext();
        Assert.Equal(1, await check.RetryMessages.CountAsync());
    }

    [Fact]
    public async Task OutcomeIsRecordedWhenADuplicateCommandKeepsTheCommandJustBeforeIt()
    {
        // alice's 250 and bob's 451 are recorded together, and bob's deferral keeps the command. A duplicate of the
        // command, consumed by another worker at that moment, finds the live claims and keeps the command first.
        var email = TestEmails.Create(to: ["alice@example.com", "bob@example.com"]);
        var saves = 0;
        var beforeSave = new BeforeSave(async save =>
        {
            saves = save;
            if (save == 1)
            {
                await DuplicateClaimAsync(email);
            }
        });

        await RecordDeliveredAndDeferredAsync(email, beforeSave);

        Assert.Equal(2, saves);
        await AssertAliceDeliveredAndBobWaitingWithTheCommandKeptAsync(email);
    }

    [Fact]
    public async Task OutcomeIsRecordedWhenTheCommandKeptMeanwhileIsDeletedAgainBeforeTheRetriedSave()
    {
        var email = TestEmails.Create(to: ["alice@example.com", "bob@example.com"]);
        var beforeSave = new BeforeSave(async save =>
        {
            if (save == 1)
            {
                await DuplicateClaimAsync(email);
            }
            else if (save == 2)
            {
                await using var other = NewContext();
                Assert.Equal(1, await other.RetryMessages.ExecuteDeleteAsync());
            }
        });

        await RecordDeliveredAndDeferredAsync(email, beforeSave);

        await AssertAliceDeliveredAndBobWaitingWithTheCommandKeptAsync(email);
    }

    [Fact]
    public async Task DuplicateFindingTheClaimsElsewhereLeavesTheRetentionOfAFailedEmailsCommandAlone()
    {
        // The duplicate reads the live claims and wants the command kept; meanwhile the claim's holder records every
        // recipient final, one failed, and keeps the command for a bulk retry (FailedContentRetention). The duplicate,
        // which holds nothing, must not turn that into "kept while pending" (which the clean-up deletes as orphaned).
        var email = TestEmails.Create(to: ["alice@example.com", "bob@example.com"]);
        await using var db = NewContext();
        var holder = NewLedger(db);
        var claim = await holder.ClaimAsync(email, DeliveryLedger.RecipientsOf(email), CancellationToken.None);
        var failed = new RecipientOutcome("bob@example.com", RecipientOutcomeKind.Failed, null, "Message too large for every relay");

        await using (var duplicate = NewContext(new BeforeSave(async save =>
        {
            if (save == 1)
            {
                await holder.RecordAsync(email, claim, "sink", [Delivered("alice@example.com"), failed]);
            }
        })))
        {
            Assert.Empty((await NewLedger(duplicate).ClaimAsync(email, DeliveryLedger.RecipientsOf(email), CancellationToken.None)).ToSend);
        }

        await using var check = NewContext();
        var kept = await check.RetryMessages.AsNoTracking().SingleAsync();
        Assert.NotNull(kept.KeepUntil);
        Assert.Equal([DeliveryState.Delivered, DeliveryState.Failed], await check.Deliveries.AsNoTracking().OrderBy(d => d.Recipient).Select(d => d.State).ToListAsync());
    }

    /// <summary>A duplicate of the command, consumed by another worker, finds the live claims and keeps the command.</summary>
    private async Task DuplicateClaimAsync(Contracts.SendEmail email)
    {
        await using var other = NewContext();
        var duplicate = await NewLedger(other).ClaimAsync(email, DeliveryLedger.RecipientsOf(email), CancellationToken.None);
        Assert.Empty(duplicate.ToSend);
    }

    /// <summary>Claims both recipients and records alice's 250 and bob's 451 together; bob's deferral keeps the command.</summary>
    private async Task RecordDeliveredAndDeferredAsync(Contracts.SendEmail email, BeforeSave beforeSave)
    {
        await using var db = NewContext(beforeSave);
        var ledger = NewLedger(db);
        var claim = await ledger.ClaimAsync(email, DeliveryLedger.RecipientsOf(email), CancellationToken.None);
        var deferred = new RecipientOutcome("bob@example.com", RecipientOutcomeKind.Deferred, new Contracts.SmtpReply(451, "4.3.0", "Try again later"), "451 4.3.0 Try again later");

        var recorded = await ledger.RecordAsync(email, claim, "sink", [Delivered("alice@example.com"), deferred]);

        Assert.Equal([DeliveryState.Delivered, DeliveryState.Deferred], recorded.Select(r => r.State));
    }

    private async Task AssertAliceDeliveredAndBobWaitingWithTheCommandKeptAsync(Contracts.SendEmail email)
    {
        await using var check = NewContext();
        var stored = await check.Deliveries.AsNoTracking().OrderBy(d => d.Recipient).ToListAsync();
        Assert.Equal([(DeliveryState.Delivered, (Guid?)null), (DeliveryState.Deferred, null)], stored.Select(d => (d.State, d.ClaimId)));
        var kept = await check.RetryMessages.AsNoTracking().SingleAsync();
        Assert.Null(kept.KeepUntil);

        // The next redelivery of the command sends nobody: alice is delivered, bob waits for the scheduler.
        var again = await NewLedger(check).ClaimAsync(email, DeliveryLedger.RecipientsOf(email), CancellationToken.None);
        Assert.Empty(again.ToSend);
    }

    private static RecipientOutcome Delivered(string recipient) =>
        new(recipient, RecipientOutcomeKind.Delivered, new Contracts.SmtpReply(250, "2.0.0", "Ok: queued"), null);

    private PostgresDeliveryDbContext NewContext(BeforeSave? beforeSave = null)
    {
        var builder = new DbContextOptionsBuilder<PostgresDeliveryDbContext>()
            .UseNpgsql(_database.ConnectionString, o => o.MigrationsHistoryTable(DeliveryDbContext.MigrationsHistoryTable))
            .UseSnakeCaseNamingConvention();
        if (beforeSave is not null)
        {
            builder.AddInterceptors(beforeSave);
        }

        return new(builder.Options);
    }

    /// <summary>
    /// Runs <paramref name="action"/> with the save's number (1, 2, …) after the context decided what to write and before
    /// it writes it.
    /// </summary>
    private sealed class BeforeSave(Func<int, Task> action) : SaveChangesInterceptor
    {
        private int _saves;

        public override async ValueTask<InterceptionResult<int>> SavingChangesAsync(
            DbContextEventData eventData, InterceptionResult<int> result, CancellationToken cancellationToken = default)
        {
            await action(++_saves);
            return result;
        }
    }

    private DeliveryLedger NewLedger(DeliveryDbContext db) =>
        new(db, Options.Create(new DeliveryOptions()), TimeProvider.System, _signal, Microsoft.Extensions.Logging.Abstractions.NullLogger<DeliveryLedger>.Instance, _writes);
}
