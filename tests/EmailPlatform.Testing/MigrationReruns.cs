using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;
using Microsoft.EntityFrameworkCore.Migrations.Operations;
using Xunit;

namespace EmailPlatform.Testing;

/// <summary>
/// The rule every PostgreSQL migration with a step outside a transaction (<c>CREATE INDEX CONCURRENTLY</c>) keeps: EF
/// Core commits each step of such a migration on its own and records the migration only at the end, so a run that fails
/// or is killed half way leaves some steps applied, and the next <c>migrate</c> runs the migration again from its start.
/// Every step must therefore succeed when it is already applied (<c>IF NOT EXISTS</c>, a <c>DROP … IF EXISTS</c> before a
/// build). This applies each such migration, forgets that it was applied, and applies it again, on a new database.
/// </summary>
public static class MigrationReruns
{
    /// <param name="historyTable">The service's migrations history table.</param>
    /// <param name="create">The service's PostgreSQL context, from the options this builds as the service does.</param>
    /// <returns>The names of the migrations that were applied twice, in order (the rest were applied once).</returns>
    public static async Task<IReadOnlyList<string>> ApplyEachNonTransactionalMigrationTwiceAsync<TContext>(
        string historyTable, Func<DbContextOptions<TContext>, TContext> create)
        where TContext : DbContext
    {
        await using var database = await TemporaryDatabase.CreateAsync();
        await using var db = create(new DbContextOptionsBuilder<TContext>()
            .UseNpgsql(database.ConnectionString, o => o.MigrationsHistoryTable(historyTable))
            .UseSnakeCaseNamingConvention()
            .Options);
        var migrations = db.GetService<IMigrationsAssembly>();
        var history = db.GetService<IHistoryRepository>();
        var migrator = db.GetService<IMigrator>();
        var twice = new List<string>();
        foreach (var (id, type) in migrations.Migrations.OrderBy(m => m.Key, StringComparer.Ordinal))
        {
            var migration = migrations.CreateMigration(type, db.Database.ProviderName!);
            if (!migration.UpOperations.OfType<SqlOperation>().Any(o => o.SuppressTransaction))
            {
                continue;
            }

            await migrator.MigrateAsync(id);
            await db.Database.ExecuteSqlRawAsync(history.GetDeleteScript(id));
            await migrator.MigrateAsync(id);
            twice.Add(id[(id.IndexOf('_', StringComparison.Ordinal) + 1)..]);
        }

        await migrator.MigrateAsync();
        Assert.Empty(await db.Database.GetPendingMigrationsAsync());
        return twice;
    }
}
