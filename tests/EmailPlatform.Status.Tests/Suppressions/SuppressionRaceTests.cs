using EmailPlatform.Status.Suppressions;
using EmailPlatform.Status.Tests.Support;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;

namespace EmailPlatform.Status.Tests.Suppressions;

/// <summary>
/// A PUT or an import that meets a hard bounce suppressing the same address at the same moment (the recorder's
/// <see cref="AutoSuppression"/>, on another connection): whichever goes first, the address ends up suppressed for good by
/// the bounce, never with the expiry or the source of the manual change.
/// </summary>
public sealed class SuppressionRaceTests
{
    private const string Address = "erin@example.com";

    [Theory]
    [InlineData("postgres", "put")]
    [InlineData("postgres", "import")]
    [InlineData("sqlite", "put")]
    [InlineData("sqlite", "import")]
    public async Task HardBounceBetweenTheReadAndTheWriteOfAnExpiryIsNeitherOverwrittenNorGivenTheExpiry(string provider, string operation)
    {
        await using var store = provider == "postgres" ? await StatusStore.PostgresAsync() : await StatusStore.SqliteAsync();
        await using (var db = store.NewContext())
        {
            if (provider == "sqlite")
            {
                await db.Database.ExecuteSqlRawAsync("PRAGMA journal_mode=WAL;");
            }

            // Suppressed for a while by an operator; the worker sent to it anyway (a cached lookup) and it bounced as unknown.
            var now = DateTime.UtcNow;
            db.Suppressions.Add(new SuppressionRecord
            {
                Address = Address, Reason = "Asked for a pause", Source = SuppressionSources.Api, CreatedAt = now, UpdatedAt = now, ExpiresAt = now.AddDays(1),
            });
            await db.SaveChangesAsync();
        }

        var bounce = new WriterAfterFirstQuery(
            () => store.RecordAsync(TestEvents.Bounced(Guid.NewGuid(), Address)), store.PostgresConnectionString, TimeSpan.FromSeconds(2));
        var expiresAt = DateTimeOffset.UtcNow.AddDays(7);
        await using (var db = store.NewContext(bounce))
        {
            if (operation == "put")
            {
                var put = await SuppressionsEndpoints.PutAsync(Address, new PutSuppressionRequest("Pause for a week", expiresAt), db, TimeProvider.System, CancellationToken.None);

                // Either it went first and the bounce made the suppression permanent after it, or it saw the bounce and was refused.
                Assert.True(put.Result is Ok<SuppressionResponse> or ProblemHttpResult { StatusCode: 409 }, $"{put.Result}");
            }
            else
            {
                var import = await SuppressionsEndpoints.ImportAsync(
                    [new ImportSuppressionItem(Address, "Pause for a week", expiresAt)], db, TimeProvider.System, CancellationToken.None);
                Assert.IsType<Ok<ImportResponse>>(import.Result);
            }
        }

        await bounce.Writer.WaitAsync(TimeSpan.FromSeconds(60));
        await using (var db = store.NewContext())
        {
            var suppression = await db.Suppressions.AsNoTracking().SingleAsync();
            Assert.Equal((SuppressionSources.Bounce, null), (suppression.Source, suppression.ExpiresAt));
            Assert.Equal("5.1.1", suppression.EnhancedCode);
        }
    }

    /// <summary>
    /// The import locks the suppression that exists (xavier) and waits to insert the new one (yan), which another writer has
    /// inserted and not committed; that writer then wants xavier. PostgreSQL breaks the cycle by aborting the import, which
    /// waited first (its deadlock check comes first): the import is made again over what the other writer committed,
    /// instead of answering a 500.
    /// </summary>
    [Fact]
    public async Task ImportAbortedToBreakADeadlockIsMadeAgain()
    {
        await using var store = await StatusStore.PostgresAsync();
        var now = DateTime.UtcNow;
        await using (var db = store.NewContext())
        {
            db.Suppressions.Add(new SuppressionRecord
            {
                Address = "xavier@example.com", Reason = "Asked for a pause", Source = SuppressionSources.Api, CreatedAt = now, UpdatedAt = now,
            });
            await db.SaveChangesAsync();
        }

        await using var other = store.NewContext();
        await using var otherTransaction = await other.Database.BeginTransactionAsync();
        other.Suppressions.Add(new SuppressionRecord
        {
            Address = "yan@example.com", Reason = "Hard bounce 550 5.1.1", Source = SuppressionSources.Bounce, CreatedAt = now, UpdatedAt = now,
        });
        await other.SaveChangesAsync();

        await using var importer = store.NewContext();
        var import = SuppressionsEndpoints.ImportAsync(
            [new ImportSuppressionItem("xavier@example.com", "Imported", null), new ImportSuppressionItem("yan@example.com", "Imported", null)],
            importer, TimeProvider.System, CancellationToken.None);
        await WaitForALockWaitAsync(store.PostgresConnectionString!);

        // Well after the import began to wait, so that its deadlock check (deadlock_timeout after its wait began) runs first.
        await Task.Delay(TimeSpan.FromMilliseconds(500));
        await other.Database.ExecuteSqlRawAsync("UPDATE suppressions SET reason = 'Changed meanwhile' WHERE address = 'xavier@example.com'");
        await otherTransaction.CommitAsync();

        var result = await import.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(2, Assert.IsType<Ok<ImportResponse>>(result.Result).Value!.Imported);
        await using var check = store.NewContext();
        var stored = await check.Suppressions.AsNoTracking().OrderBy(s => s.Address).Select(s => new { s.Address, s.Reason, s.Source }).ToListAsync();
        Assert.Equal(
            [new { Address = "xavier@example.com", Reason = "Imported", Source = SuppressionSources.Import }, new { Address = "yan@example.com", Reason = "Imported", Source = SuppressionSources.Bounce }],
            stored);
    }

    private static async Task WaitForALockWaitAsync(string connectionString)
    {
        await using var connection = new Npgsql.NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new Npgsql.NpgsqlCommand(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()", connection);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while ((long)(await command.ExecuteScalarAsync())! == 0)
        {
            Assert.True(DateTime.UtcNow < deadline, "The import never waited for the other writer's new row.");
            await Task.Delay(20);
        }
    }
}
