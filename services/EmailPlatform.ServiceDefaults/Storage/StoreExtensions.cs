using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace EmailPlatform.ServiceDefaults.Storage;

/// <summary>
/// Each service owns a <see cref="DbContext"/> and ships EF Core migrations for two providers: PostgreSQL
/// (production, <c>ConnectionStrings:Postgres</c>) and SQLite (the standalone host,
/// <c>ConnectionStrings:Sqlite</c>). A provider-specific subclass of the context carries each set of
/// migrations, so one model has one migration history per provider. The context options depend on configuration
/// only, so they are built once per process (singleton lifetime) instead of with every request's context.
/// </summary>
/// <remarks>
/// With <c>pooled</c> a scope gets a context whose EF Core services are already resolved (reset when it was returned)
/// instead of building them again. The delivery worker, which makes a context for every message, pools: that
/// initialisation was a fifth of its allocations, and pooling took a delivered message from 172 to 133 KB allocated
/// (<c>bench/delivery-speed.sh</c>, the worker's <c>/metrics</c> read before and after, both builds in one session).
/// The ingress does not: its accepts are group-committed, and with pooling <c>bench/accept.sh</c> showed no gain but a
/// higher p99 at 1,000 req/s and peak RSS (two runs each, side by side). The status service makes one context per
/// batch. The contexts carry no state of their own beyond what EF Core resets (no dependencies, no fields).
/// </remarks>
public static class StoreExtensions
{
    public const string PostgresConnectionName = "Postgres";
    public const string SqliteConnectionName = "Sqlite";

    public static IHostApplicationBuilder AddStore<TContext, TPostgres, TSqlite>(
        this IHostApplicationBuilder builder, string migrationsHistoryTable, bool pooled = false)
        where TContext : DbContext
        where TPostgres : TContext
        where TSqlite : TContext
    {
        var postgres = builder.Configuration.GetConnectionString(PostgresConnectionName);
        var sqlite = builder.Configuration.GetConnectionString(SqliteConnectionName);

        if (!string.IsNullOrWhiteSpace(postgres))
        {
            // A migration that builds an index concurrently runs that step outside a transaction, and EF Core warns about
            // it at every migrate: a failure half way leaves the migration partly applied. Ours are written to be run
            // again from their start after such a failure (each step IF NOT EXISTS, or a DROP … IF EXISTS before a
            // build), which each test project checks by applying every such migration twice (MigrationReruns), so the
            // warning would only alarm the operator reading the migrations Job's log.
            Register<TPostgres>(o => o
                .UseNpgsql(postgres, npgsql => npgsql.MigrationsHistoryTable(migrationsHistoryTable))
                .UseSnakeCaseNamingConvention()
                .ConfigureWarnings(w => w.Ignore(RelationalEventId.NonTransactionalMigrationOperationWarning)));
        }
        else if (!string.IsNullOrWhiteSpace(sqlite))
        {
            Register<TSqlite>(o => o
                .UseSqlite(sqlite, s => s.MigrationsHistoryTable(migrationsHistoryTable))
                .UseSnakeCaseNamingConvention());
        }
        else
        {
            throw new InvalidOperationException(
                $"ConnectionStrings:{PostgresConnectionName} is required: set it (env ConnectionStrings__{PostgresConnectionName}) " +
                $"to a PostgreSQL connection string, or ConnectionStrings:{SqliteConnectionName} for a single-process setup.");
        }

        builder.Services.AddHealthChecks().AddDbContextCheck<TContext>(typeof(TContext).Name, tags: [Extensions.ReadyTag]);
        return builder;

        void Register<TImplementation>(Action<DbContextOptionsBuilder> configure)
            where TImplementation : TContext
        {
            if (pooled)
            {
                builder.Services.AddDbContextPool<TContext, TImplementation>(configure);
            }
            else
            {
                builder.Services.AddDbContext<TContext, TImplementation>(configure, optionsLifetime: ServiceLifetime.Singleton);
            }
        }
    }

    /// <summary>
    /// How long one statement of a migration may take: a migration that fills a new table or index from the rows already
    /// stored reads all of them, minutes at tens of millions, where the provider's default (30 s) is meant for requests.
    /// The migrations Job's deadline bounds the whole step.
    /// </summary>
    public static readonly TimeSpan MigrationCommandTimeout = TimeSpan.FromHours(1);

    /// <summary>Applies pending migrations: the explicit <c>migrate</c> step of a distributed deployment.</summary>
    public static async Task MigrateStoreAsync<TContext>(this IServiceProvider services, CancellationToken cancellationToken = default)
        where TContext : DbContext
    {
        await using var scope = services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<TContext>();
        db.Database.SetCommandTimeout(MigrationCommandTimeout);
        if (db.Database.IsSqlite())
        {
            PrepareSqlite(db.Database.GetConnectionString()!);
        }

        // EF Core reads the history table before it creates it and logs the failed read as an error (dotnet/efcore#37328),
        // so every first migrate of a new database would print "fail: Failed executing DbCommand" for a normal step.
        // Creating the table first makes that read succeed; what MigrateAsync does is unchanged.
        await db.GetService<IHistoryRepository>().CreateIfNotExistsAsync(cancellationToken);
        await db.Database.MigrateAsync(cancellationToken);
    }

    /// <summary>Creates the database file's folder and switches it to WAL, so readers never block the writer.</summary>
    private static void PrepareSqlite(string connectionString)
    {
        var file = new SqliteConnectionStringBuilder(connectionString).DataSource;
        var folder = Path.GetDirectoryName(Path.GetFullPath(file));
        if (!string.IsNullOrEmpty(folder))
        {
            Directory.CreateDirectory(folder);
        }

        using var connection = new SqliteConnection(connectionString);
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA journal_mode=WAL;";
        command.ExecuteNonQuery();
    }
}
