using EmailPlatform.ServiceDefaults.Storage;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;
using Microsoft.EntityFrameworkCore.Storage.ValueConversion;

namespace EmailPlatform.Delivery.Storage;

/// <summary>The delivery worker's store: a record per email recipient (claims, attempts, retries), the commands to retry, and the operator commands already carried out.</summary>
public class DeliveryDbContext(DbContextOptions options) : DbContext(options)
{
    public const string MigrationsHistoryTable = "__delivery_migrations";

    internal DbSet<DeliveryRecord> Deliveries => Set<DeliveryRecord>();

    internal DbSet<RetryMessage> RetryMessages => Set<RetryMessage>();

    internal DbSet<ProcessedCommand> ProcessedCommands => Set<ProcessedCommand>();

    protected override void ConfigureConventions(ModelConfigurationBuilder configurationBuilder)
    {
        configurationBuilder.Properties<DateTime>().HaveConversion<UtcDateTimeConverter>();
        configurationBuilder.Properties<DeliveryState>().HaveConversion<StateConverter>().HaveMaxLength(16);
    }

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        var delivery = modelBuilder.Entity<DeliveryRecord>();
        delivery.ToTable("deliveries");
        delivery.HasKey(d => new { d.EmailId, d.Recipient });
        delivery.Property(d => d.Recipient).HasMaxLength(320);
        delivery.Property(d => d.Relay).HasMaxLength(200);
        delivery.Property(d => d.EnhancedCode).HasMaxLength(16);
        delivery.Property(d => d.Version).IsConcurrencyToken();
        delivery.HasIndex(d => d.DueAt);
        // The hourly clean-up's deletes of final records past their retention (RetryScheduler), oldest first.
        delivery.HasIndex(d => d.UpdatedAt).HasFilter("due_at IS NULL");
        delivery.Ignore(d => d.FailedAs);

        var retry = modelBuilder.Entity<RetryMessage>();
        retry.ToTable("retry_messages");
        retry.HasKey(r => r.EmailId);
        retry.Property(r => r.EmailId).ValueGeneratedNever();
        retry.HasIndex(r => r.KeepUntil);
        retry.Property(r => r.TraceParent).HasMaxLength(55);

        var command = modelBuilder.Entity<ProcessedCommand>();
        command.ToTable("processed_commands");
        command.HasKey(c => c.CommandId);
        command.Property(c => c.CommandId).ValueGeneratedNever();
        command.HasIndex(c => c.ProcessedAt);

        // Read only: the content of large emails, which the ingress's migrations create and the ingress writes.
        StoredContents.Configure(modelBuilder, migrated: false);
    }

    private sealed class StateConverter() : ValueConverter<DeliveryState, string>(
        state => state.ToString().ToLowerInvariant(), value => Enum.Parse<DeliveryState>(value, true));
}

/// <summary>The model with PostgreSQL migrations.</summary>
public sealed class PostgresDeliveryDbContext(DbContextOptions<PostgresDeliveryDbContext> options) : DeliveryDbContext(options);

/// <summary>The model with SQLite migrations (standalone host).</summary>
public sealed class SqliteDeliveryDbContext(DbContextOptions<SqliteDeliveryDbContext> options) : DeliveryDbContext(options);

internal sealed class PostgresDeliveryDbContextFactory : IDesignTimeDbContextFactory<PostgresDeliveryDbContext>
{
    public PostgresDeliveryDbContext CreateDbContext(string[] args) => new(new DbContextOptionsBuilder<PostgresDeliveryDbContext>()
        .UseNpgsql("Host=localhost;Database=design_time", o => o.MigrationsHistoryTable(DeliveryDbContext.MigrationsHistoryTable))
        .UseSnakeCaseNamingConvention().Options);
}

internal sealed class SqliteDeliveryDbContextFactory : IDesignTimeDbContextFactory<SqliteDeliveryDbContext>
{
    public SqliteDeliveryDbContext CreateDbContext(string[] args) => new(new DbContextOptionsBuilder<SqliteDeliveryDbContext>()
        .UseSqlite("Data Source=design_time.db", o => o.MigrationsHistoryTable(DeliveryDbContext.MigrationsHistoryTable))
        .UseSnakeCaseNamingConvention().Options);
}
