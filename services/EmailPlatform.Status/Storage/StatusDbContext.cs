using System.Text.Json;
using EmailPlatform.Contracts;
using EmailPlatform.ServiceDefaults.Storage;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.ChangeTracking;
using Microsoft.EntityFrameworkCore.Design;
using Microsoft.EntityFrameworkCore.Storage.ValueConversion;

namespace EmailPlatform.Status.Storage;

/// <summary>The status service's store: emails, their recipients and every event of their timelines.</summary>
public class StatusDbContext(DbContextOptions options) : DbContext(options)
{
    public const string MigrationsHistoryTable = "__status_migrations";

    public DbSet<EmailRecord> Emails => Set<EmailRecord>();

    public DbSet<RecipientRecord> Recipients => Set<RecipientRecord>();

    public DbSet<EventRecord> Events => Set<EventRecord>();

    protected override void ConfigureConventions(ModelConfigurationBuilder configurationBuilder)
    {
        configurationBuilder.Properties<DateTime>().HaveConversion<UtcDateTimeConverter>();
        configurationBuilder.Properties<EmailState>().HaveConversion<StateConverter>().HaveMaxLength(16);
        configurationBuilder.Properties<EmailPriority>().HaveConversion<string>().HaveMaxLength(16);
    }

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        var email = modelBuilder.Entity<EmailRecord>();
        email.Property(e => e.Id).ValueGeneratedNever();
        email.Property(e => e.Tags).HasConversion(new JsonConverter<List<EmailTag>>(), new JsonComparer<List<EmailTag>>());
        email.Property(e => e.Metadata).HasConversion(new JsonConverter<Dictionary<string, string>>(), new JsonComparer<Dictionary<string, string>>());
        email.Property(e => e.Version).IsConcurrencyToken();
        email.HasMany(e => e.Recipients).WithOne().HasForeignKey(r => r.EmailId);

        var recipient = modelBuilder.Entity<RecipientRecord>();
        recipient.HasKey(r => new { r.EmailId, r.Address });
        recipient.Property(r => r.Version).IsConcurrencyToken();

        var @event = modelBuilder.Entity<EventRecord>();
        @event.Property(e => e.Id).ValueGeneratedNever();
        @event.HasIndex(e => new { e.EmailId, e.OccurredAt });
    }

    private sealed class StateConverter() : ValueConverter<EmailState, string>(
        state => state.ToWire(), value => Enum.Parse<EmailState>(value, ignoreCase: true));

    private sealed class JsonConverter<T>() : ValueConverter<T, string>(
        value => JsonSerializer.Serialize(value, JsonSerializerOptions.Default),
        json => JsonSerializer.Deserialize<T>(json, JsonSerializerOptions.Default)!)
        where T : new();

    private sealed class JsonComparer<T>() : ValueComparer<T>(
        (a, b) => JsonSerializer.Serialize(a, JsonSerializerOptions.Default) == JsonSerializer.Serialize(b, JsonSerializerOptions.Default),
        value => JsonSerializer.Serialize(value, JsonSerializerOptions.Default).GetHashCode(StringComparison.Ordinal),
        value => JsonSerializer.Deserialize<T>(JsonSerializer.Serialize(value, JsonSerializerOptions.Default), JsonSerializerOptions.Default)!);
}

/// <summary>The model with PostgreSQL migrations.</summary>
public sealed class PostgresStatusDbContext(DbContextOptions<PostgresStatusDbContext> options) : StatusDbContext(options);

/// <summary>The model with SQLite migrations (standalone host).</summary>
public sealed class SqliteStatusDbContext(DbContextOptions<SqliteStatusDbContext> options) : StatusDbContext(options);

internal sealed class PostgresStatusDbContextFactory : IDesignTimeDbContextFactory<PostgresStatusDbContext>
{
    public PostgresStatusDbContext CreateDbContext(string[] args) => new(new DbContextOptionsBuilder<PostgresStatusDbContext>()
        .UseNpgsql("Host=localhost;Database=design_time", o => o.MigrationsHistoryTable(StatusDbContext.MigrationsHistoryTable))
        .UseSnakeCaseNamingConvention().Options);
}

internal sealed class SqliteStatusDbContextFactory : IDesignTimeDbContextFactory<SqliteStatusDbContext>
{
    public SqliteStatusDbContext CreateDbContext(string[] args) => new(new DbContextOptionsBuilder<SqliteStatusDbContext>()
        .UseSqlite("Data Source=design_time.db", o => o.MigrationsHistoryTable(StatusDbContext.MigrationsHistoryTable))
        .UseSnakeCaseNamingConvention().Options);
}
