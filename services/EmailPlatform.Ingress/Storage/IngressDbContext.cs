using EmailPlatform.ServiceDefaults.Storage;
using EmailPlatform.Ingress.ApiKeys;
using EmailPlatform.Ingress.Idempotency;
using EmailPlatform.Ingress.Outbox;
using EmailPlatform.Ingress.Templates;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;

namespace EmailPlatform.Ingress.Storage;

/// <summary>
/// The ingress's store: the outbox, the content of large emails (<see cref="StoredContents"/>, which the other services
/// read), API keys, idempotency records and templates.
/// </summary>
public class IngressDbContext(DbContextOptions options) : DbContext(options)
{
    public const string MigrationsHistoryTable = "__ingress_migrations";

    public DbSet<OutboxMessage> OutboxMessages => Set<OutboxMessage>();

    public DbSet<EmailContentRecord> EmailContents => Set<EmailContentRecord>();

    public DbSet<ApiKeyRecord> ApiKeys => Set<ApiKeyRecord>();

    public DbSet<IdempotencyRecord> IdempotencyRecords => Set<IdempotencyRecord>();

    public DbSet<TemplateRecord> Templates => Set<TemplateRecord>();

    public DbSet<TemplateVersionRecord> TemplateVersions => Set<TemplateVersionRecord>();

    protected override void ConfigureConventions(ModelConfigurationBuilder configurationBuilder) =>
        configurationBuilder.Properties<DateTime>().HaveConversion<UtcDateTimeConverter>();

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        var outbox = modelBuilder.Entity<OutboxMessage>();
        outbox.Property(m => m.Id).ValueGeneratedNever();
        outbox.Property(m => m.MessageType).HasMaxLength(64);
        // Only unpublished rows are ever scanned; the partial index stays as small as the backlog.
        outbox.HasIndex(m => new { m.AvailableAt, m.Id }).HasFilter("published_at IS NULL");
        outbox.HasIndex(m => m.EmailId);
        // The janitor's deletes of published rows past their retention (StoreJanitor), oldest first.
        outbox.HasIndex(m => m.PublishedAt).HasFilter("published_at IS NOT NULL");

        StoredContents.Configure(modelBuilder, migrated: true);

        var keys = modelBuilder.Entity<ApiKeyRecord>();
        keys.Property(k => k.Id).ValueGeneratedNever();
        keys.Property(k => k.Name).HasMaxLength(100);
        keys.Property(k => k.Prefix).HasMaxLength(16);
        keys.HasIndex(k => k.Hash).IsUnique();

        var idempotency = modelBuilder.Entity<IdempotencyRecord>();
        idempotency.HasKey(r => new { r.ApiKeyId, r.Key });
        idempotency.Property(r => r.ApiKeyId).HasMaxLength(64);
        idempotency.Property(r => r.Key).HasMaxLength(IdempotencyRecord.MaxKeyLength);
        idempotency.HasIndex(r => r.ExpiresAt);

        TemplateModel.Configure(modelBuilder);
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
