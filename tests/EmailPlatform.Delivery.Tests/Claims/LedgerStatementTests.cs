using EmailPlatform.Delivery.Claims;
using EmailPlatform.Delivery.Relays;
using EmailPlatform.Delivery.Retries;
using EmailPlatform.Delivery.Smtp;
using EmailPlatform.Delivery.Storage;
using EmailPlatform.Delivery.Tests.Support;
using EmailPlatform.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace EmailPlatform.Delivery.Tests.Claims;

/// <summary>
/// The ledger's own PostgreSQL statements (the one-statement claim and outcome write) keep the guarantees of the
/// EF Core path they shortcut: a claim never overwrites another, a taken-over claim cannot record its outcome, and a
/// recorded outcome is found again by the next claim instead of being sent.
/// </summary>
public sealed class LedgerStatementTests : IAsyncLifetime
{
    private TemporaryDatabase _database = null!;
    private readonly RetrySignal _signal = new();

    public async Task InitializeAsync()
    {
        _database = await TemporaryDatabase.CreateAsync();
        await using var db = NewContext();
        await db.Database.MigrateAsync();
    }

    public async Task DisposeAsync()
    {
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

    private static RecipientOutcome Delivered(string recipient) =>
        new(recipient, RecipientOutcomeKind.Delivered, new Contracts.SmtpReply(250, "2.0.0", "Ok: queued"), null);

    private PostgresDeliveryDbContext NewContext() => new(new DbContextOptionsBuilder<PostgresDeliveryDbContext>()
        .UseNpgsql(_database.ConnectionString, o => o.MigrationsHistoryTable(DeliveryDbContext.MigrationsHistoryTable))
        .UseSnakeCaseNamingConvention().Options);

    private DeliveryLedger NewLedger(DeliveryDbContext db) =>
        new(db, Options.Create(new DeliveryOptions()), TimeProvider.System, _signal);
}
