using EmailPlatform.Contracts;
using EmailPlatform.Status.Bulk;
using EmailPlatform.Status.Retention;
using EmailPlatform.Status.Storage;
using EmailPlatform.Status.Tests.Support;
using EmailPlatform.Testing;
using MassTransit;
using MassTransit.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace EmailPlatform.Status.Tests.Bulk;

/// <summary>
/// The provider-specific paths of <c>bulk_commands</c>: the publisher's claim (a row lock on PostgreSQL, none on the
/// standalone host's SQLite) and the purge of parked rows, on MassTransit's test harness.
/// </summary>
public sealed class BulkCommandStoreTests
{
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task PublisherPublishesEachRowThenDeletesItParksARowItCannotReadAndLeavesARowOfAnUnknownType(bool sqlite)
    {
        await using var store = sqlite ? await StatusStore.SqliteAsync() : await StatusStore.PostgresAsync();
        await using var provider = new ServiceCollection()
            .AddScoped(_ => store.NewContext())
            .AddMetrics()
            .AddMassTransitTestHarness()
            .BuildServiceProvider(validateScopes: true);
        var harness = provider.GetRequiredService<ITestHarness>();
        await harness.Start();
        var now = DateTime.UtcNow;
        var cancels = Enumerable.Range(0, 3).Select(_ => new CancelEmail(NewId.NextGuid(), Guid.NewGuid(), DateTimeOffset.UtcNow)).ToList();
        var retry = new RetryRecipients(NewId.NextGuid(), Guid.NewGuid(), ["alice@example.com"], DateTimeOffset.UtcNow);
        var unreadable = new BulkCommandRecord { Id = Guid.CreateVersion7(), AuditId = Guid.NewGuid(), MessageType = nameof(CancelEmail), Payload = "[]", CreatedAt = now };
        // A newer version's command type: not this replica's to publish, nor to park.
        var unknown = new BulkCommandRecord { Id = Guid.CreateVersion7(), AuditId = Guid.NewGuid(), MessageType = "ArchiveEmail", Payload = "[]", CreatedAt = now };
        await using (var db = store.NewContext())
        {
            db.BulkCommands.AddRange([unknown, .. BulkCommands.Rows(Guid.NewGuid(), cancels, now), unreadable, .. BulkCommands.Rows(Guid.NewGuid(), [retry], now)]);
            await db.SaveChangesAsync();
        }

        var publisher = new BulkCommandPublisher(
            provider.GetRequiredService<IServiceScopeFactory>(), harness.Bus, new BulkCommandSignal(), Options.Create(new BulkOptions()),
            new BulkMetrics(provider.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>()), TimeProvider.System,
            NullLogger<BulkCommandPublisher>.Instance);
        var rounds = 0;
        while (await publisher.PublishOnceAsync(CancellationToken.None))
        {
            rounds++;
        }

        Assert.Equal(3, rounds);
        Assert.Equal(cancels.Select(c => c.CommandId).Order(), harness.Published.Select<CancelEmail>().Select(p => p.Context.Message.CommandId).Order());
        Assert.Equal(retry.CommandId, Assert.Single(harness.Published.Select<RetryRecipients>()).Context.Message.CommandId);
        await using (var db = store.NewContext())
        {
            var left = await db.BulkCommands.AsNoTracking().ToDictionaryAsync(r => r.Id);
            Assert.Equal(new[] { unknown.Id, unreadable.Id }.Order(), left.Keys.Order());
            Assert.NotNull(left[unreadable.Id].ParkedAt);
            Assert.Null(left[unknown.Id].ParkedAt);
        }

        await harness.Stop();
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task PurgeRemovesParkedRowsOnceTheyAreAsOldAsPurgedEventsAndLeavesTheRest(bool sqlite)
    {
        await using var store = sqlite ? await StatusStore.SqliteAsync() : await StatusStore.PostgresAsync();
        var now = DateTimeOffset.UtcNow;
        var retention = new RetentionOptions();
        var old = now.UtcDateTime - retention.EventsAfter - TimeSpan.FromHours(1);
        var oldParked = Row(createdAt: old, parkedAt: old);
        var recentParked = Row(createdAt: old, parkedAt: now.UtcDateTime.AddHours(-1));
        var waiting = Row(createdAt: old, parkedAt: null);
        await using (var db = store.NewContext())
        {
            db.BulkCommands.AddRange(oldParked, recentParked, waiting);
            await db.SaveChangesAsync();
        }

        await using (var db = store.NewContext())
        {
            var result = await new RetentionPurger(db, Options.Create(retention), new ManualClock(now)).PurgeAsync(CancellationToken.None);
            Assert.Equal(1, result.ParkedBulkCommands);
            Assert.Equal(new[] { recentParked.Id, waiting.Id }.Order(), (await db.BulkCommands.Select(c => c.Id).ToListAsync()).Order());
        }
    }

    private static BulkCommandRecord Row(DateTime createdAt, DateTime? parkedAt) => new()
    {
        Id = Guid.CreateVersion7(),
        AuditId = Guid.NewGuid(),
        MessageType = nameof(RetryRecipients),
        Payload = "[]",
        CreatedAt = createdAt,
        ParkedAt = parkedAt,
    };
}
