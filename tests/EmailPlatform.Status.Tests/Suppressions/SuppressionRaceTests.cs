using EmailPlatform.Status.Suppressions;
using EmailPlatform.Status.Tests.Support;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Npgsql;

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
    /// The import locks the suppression that exists (xavier) and, about to insert the new one (yan), meets another writer
    /// that has inserted yan and not committed and now waits for xavier: the import's wait for yan closes a cycle.
    /// PostgreSQL breaks it by aborting the session whose deadlock check (<c>deadlock_timeout</c> after it began to wait)
    /// comes first: the other writer's comes only after a minute, so it is the import, which is made again over what the
    /// other writer committed, instead of answering a 500.
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
        // A superuser's parameter: build.sh grants the test role the right to set it (PostgreSQL 15).
        await other.Database.ExecuteSqlRawAsync("SET LOCAL deadlock_timeout = '1min'");
        other.Suppressions.Add(new SuppressionRecord
        {
            Address = "yan@example.com", Reason = "Hard bounce 550 5.1.1", Source = SuppressionSources.Bounce, CreatedAt = now, UpdatedAt = now,
        });
        await other.SaveChangesAsync();
        var otherSession = ((NpgsqlConnection)other.Database.GetDbConnection()).ProcessID;

        // The import is held with xavier locked until the other writer waits for it; then it goes on to insert yan.
        var hold = new HoldFirstSave();
        await using var importer = store.NewContext(hold);
        var import = SuppressionsEndpoints.ImportAsync(
            [new ImportSuppressionItem("xavier@example.com", "Imported", null), new ImportSuppressionItem("yan@example.com", "Imported", null)],
            importer, TimeProvider.System, CancellationToken.None);
        await hold.Held.WaitAsync(TimeSpan.FromSeconds(60));
        var update = other.Database.ExecuteSqlRawAsync("UPDATE suppressions SET reason = 'Changed meanwhile' WHERE address = 'xavier@example.com'");
        await WaitForALockWaitAsync(store.PostgresConnectionString!, otherSession);
        hold.Release();

        // Once PostgreSQL has aborted the import, its lock on xavier is gone and the update goes through.
        await update.WaitAsync(TimeSpan.FromSeconds(60));
        await otherTransaction.CommitAsync();

        var result = await import.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(2, Assert.IsType<Ok<ImportResponse>>(result.Result).Value!.Imported);
        Assert.Equal(2, hold.Saves);
        await using var check = store.NewContext();
        var stored = await check.Suppressions.AsNoTracking().OrderBy(s => s.Address).Select(s => new { s.Address, s.Reason, s.Source }).ToListAsync();
        Assert.Equal(
            [new { Address = "xavier@example.com", Reason = "Imported", Source = SuppressionSources.Import }, new { Address = "yan@example.com", Reason = "Imported", Source = SuppressionSources.Bounce }],
            stored);
    }

    /// <summary>Waits until the session <paramref name="pid"/> waits for a lock.</summary>
    private static async Task WaitForALockWaitAsync(string connectionString, int pid)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT count(*) FROM pg_locks WHERE pid = $1 AND NOT granted", connection)
        {
            Parameters = { new NpgsqlParameter { Value = pid } },
        };
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while ((long)(await command.ExecuteScalarAsync())! == 0)
        {
            Assert.True(DateTime.UtcNow < deadline, "The other writer never waited for the import's lock on xavier.");
            await Task.Delay(20);
        }
    }

    /// <summary>Holds the first save (of a transaction whose read has locked the rows that exist) until released.</summary>
    private sealed class HoldFirstSave : SaveChangesInterceptor
    {
        private readonly TaskCompletionSource _held = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _saves;

        /// <summary>Completes when the first save is held.</summary>
        public Task Held => _held.Task;

        public int Saves => Volatile.Read(ref _saves);

        public void Release() => _released.TrySetResult();

        public override async ValueTask<InterceptionResult<int>> SavingChangesAsync(
            DbContextEventData eventData, InterceptionResult<int> result, CancellationToken cancellationToken = default)
        {
            if (Interlocked.Increment(ref _saves) == 1)
            {
                _held.TrySetResult();
                await _released.Task.WaitAsync(TimeSpan.FromSeconds(60), cancellationToken);
            }

            return result;
        }
    }
}
