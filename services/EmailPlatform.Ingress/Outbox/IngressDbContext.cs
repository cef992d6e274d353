using EmailPlatform.ServiceDefaults.Storage;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;

namespace EmailPlatform.Ingress.Outbox;

/// <summary>The ingress's store: the outbox of accepted emails.</summary>
public class IngressDbContext(DbContextOptions options) : DbContext(options)
{
    public const string MigrationsHistoryTable = "__ingress_migrations";

    public DbSet<OutboxEmail> OutboxEmails => Set<OutboxEmail>();

    protected override void ConfigureConventions(ModelConfigurationBuilder configurationBuilder) =>
        configurationBuilder.Properties<DateTime>().HaveConversion<UtcDateTimeConverter>();

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        var outbox = modelBuilder.Entity<OutboxEmail>();
        outbox.HasKey(e => e.Id);
        outbox.Property(e => e.Id).ValueGeneratedNever();
        // Only unpublished rows are ever scanned; the partial index stays as small as the backlog.
        outbox.HasIndex(e => e.AcceptedAt).HasFilter("published_at IS NULL");
    }
}

/// <summary>The model with PostgreSQL migrations.</summary>
public sealed class PostgresIngressDbContext(DbContextOptions<PostgresIngressDbContext> options) : IngressDbContext(options);

/// <summary>The model with SQLite migrations (standalone host).</summary>
public sealed class SqliteIngressDbContext(DbContextOptions<SqliteIngressDbContext> options) : IngressDbContext(options);

internal sealed class PostgresIngressDbContextFactory : IDesignTimeDbContextFactory<PostgresIngressDbContext>
{
    public PostgresIngressDbContext CreateDbContext(string[] args) => new(new DbContextOptionsBuilder<PostgresIngressDbContext>()
        .UseNpgsql("Host=localhost;Database=design_time", o => o.MigrationsHistoryTable(IngressDbContext.MigrationsHistoryTable))
        .UseSnakeCaseNamingConvention().Options);
}

internal sealed class SqliteIngressDbContextFactory : IDesignTimeDbContextFactory<SqliteIngressDbContext>
{
    public SqliteIngressDbContext CreateDbContext(string[] args) => new(new DbContextOptionsBuilder<SqliteIngressDbContext>()
        .UseSqlite("Data Source=design_time.db", o => o.MigrationsHistoryTable(IngressDbContext.MigrationsHistoryTable))
        .UseSnakeCaseNamingConvention().Options);
}
