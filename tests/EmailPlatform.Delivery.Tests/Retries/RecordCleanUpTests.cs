using EmailPlatform.Delivery.Relays;
using EmailPlatform.Delivery.Retries;
using EmailPlatform.Delivery.Storage;
using EmailPlatform.Delivery.Tests.Support;
using EmailPlatform.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Npgsql;

namespace EmailPlatform.Delivery.Tests.Retries;

/// <summary>
/// The scheduler's hourly clean-up: final records and carried-out commands past <c>Delivery:RecordRetention</c> and
/// kept content past its time go, a bounded number per statement, and nothing that is still needed.
/// </summary>
public sealed class RecordCleanUpTests
{
    [Theory]
    [InlineData(TestStore.Postgres)]
    [InlineData(TestStore.Sqlite)]
    public async Task RowsPastTheirRetentionAreDeletedInBatchesAndNothingElse(TestStore store)
    {
        await using var host = await DeliveryHost.StartAsync(ServiceProcess.FreeTcpPort(), store);
        // Stopped, so that its own first clean-up does not take part: the test runs one.
        var scheduler = host.Services.GetServices<IHostedService>().OfType<RetryScheduler>().Single();
        await scheduler.StopAsync(CancellationToken.None);
        var now = DateTime.UtcNow;
        var old = now.AddDays(-30);
        var pending = Guid.NewGuid();
        await host.QueryAsync(db =>
        {
            for (var i = 0; i < 7; i++)
            {
                // Seven final records long past their retention, one final a moment ago, one still due.
                db.Deliveries.Add(Record(Guid.NewGuid(), dueAt: null, updatedAt: old.AddSeconds(i)));
                db.ProcessedCommands.Add(new ProcessedCommand { CommandId = Guid.NewGuid(), EmailId = Guid.NewGuid(), ProcessedAt = old.AddSeconds(i) });
                db.RetryMessages.Add(new RetryMessage { EmailId = Guid.NewGuid(), Command = "{}", CreatedAt = old, KeepUntil = now.AddDays(-1).AddSeconds(i) });
            }

            db.Deliveries.Add(Record(Guid.NewGuid(), dueAt: null, updatedAt: now));
            db.Deliveries.Add(Record(pending, dueAt: now.AddHours(1), updatedAt: old));
            db.ProcessedCommands.Add(new ProcessedCommand { CommandId = Guid.NewGuid(), EmailId = Guid.NewGuid(), ProcessedAt = now });
            db.RetryMessages.Add(new RetryMessage { EmailId = pending, Command = "{}", CreatedAt = old });
            return db.SaveChangesAsync();
        });

        scheduler.CleanUpBatchSize = 3;
        var deleted = await host.QueryAsync(db =>
            scheduler.CleanUpAsync(db, now, host.Services.GetRequiredService<IOptions<DeliveryOptions>>().Value, CancellationToken.None));

        Assert.Equal(3 * 7, deleted);
        Assert.Equal(2, await host.QueryAsync(db => db.Deliveries.CountAsync()));
        Assert.True(await host.QueryAsync(db => db.Deliveries.AnyAsync(d => d.EmailId == pending)), "the record still due was deleted");
        Assert.Equal(1, await host.QueryAsync(db => db.ProcessedCommands.CountAsync()));
        // The content of the email still due is kept: it has no time of its own yet and a recipient pending.
        Assert.Equal([pending], await host.QueryAsync(db => db.RetryMessages.Select(m => m.EmailId).ToListAsync()));
    }

    /// <summary>
    /// A worker's store holds a week of final records, millions at full speed: finding those past their retention must
    /// not scan them all. With sequential scans priced out, the planner uses the partial index on updated_at.
    /// </summary>
    [Fact]
    public async Task FinalRecordsPastTheirRetentionAreFoundThroughAnIndex()
    {
        await using var host = await DeliveryHost.StartAsync(ServiceProcess.FreeTcpPort(), TestStore.Postgres);
        var plan = await host.QueryAsync(async db =>
        {
            var connection = (NpgsqlConnection)db.Database.GetDbConnection();
            await connection.OpenAsync();
            await using (var off = new NpgsqlCommand("SET enable_seqscan = off", connection))
            {
                await off.ExecuteNonQueryAsync();
            }

            await using var explain = new NpgsqlCommand(
                "EXPLAIN SELECT email_id, recipient FROM deliveries WHERE due_at IS NULL AND updated_at < now() ORDER BY updated_at LIMIT 1000",
                connection);
            var lines = new List<string>();
            await using var reader = await explain.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                lines.Add(reader.GetString(0));
            }

            return lines;
        });

        Assert.Contains(plan, line => line.Contains("ix_deliveries_updated_at", StringComparison.Ordinal));
    }

    private static DeliveryRecord Record(Guid emailId, DateTime? dueAt, DateTime updatedAt) => new()
    {
        EmailId = emailId,
        Recipient = "alice@example.com",
        State = dueAt is null ? DeliveryState.Delivered : DeliveryState.Deferred,
        Attempt = 1,
        DueAt = dueAt,
        FirstAttemptAt = updatedAt,
        ExpiresAt = updatedAt.AddDays(2),
        UpdatedAt = updatedAt,
    };
}
