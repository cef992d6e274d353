using System.Collections.Concurrent;
using System.Text.Json;
using EmailPlatform.Contracts;
using EmailPlatform.ServiceDefaults.Storage;
using EmailPlatform.Status.Bulk;
using EmailPlatform.Status.Suppressions;
using EmailPlatform.Status.Webhooks;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;
using Microsoft.EntityFrameworkCore.Metadata;
using Microsoft.EntityFrameworkCore.Storage.ValueConversion;

namespace EmailPlatform.Status.Storage;

/// <summary>The status service's store: emails, their recipients and every event of their timelines.</summary>
public class StatusDbContext(DbContextOptions options) : DbContext(options)
{
    public const string MigrationsHistoryTable = "__status_migrations";

    public DbSet<EmailRecord> Emails => Set<EmailRecord>();

    /// <summary>
    /// The emails with <see cref="EmailRecord.Html"/> and <see cref="EmailRecord.Text"/> left in the store (read as null),
    /// for the work that never needs them: the recorder, which reads a batch's emails for every status update, and the
    /// list. A real email's bodies are tens of kilobytes, where the rest of its row is a few hundred bytes. Tracked, an
    /// email read this way has null as the original value of both, so only a body set afterwards is written; never read
    /// it this way to show or to clear its bodies.
    /// </summary>
    public IQueryable<EmailRecord> EmailsWithoutBodies => Emails.FromSqlRaw(EmailsWithoutBodiesSql.GetOrAdd(Model, WithoutBodiesSql));

    private static readonly ConcurrentDictionary<IModel, string> EmailsWithoutBodiesSql = new();

    /// <summary>Every column of <c>emails</c> from the model, the bodies' as NULL: a column added later is read too.</summary>
    private static string WithoutBodiesSql(IModel model)
    {
        var email = model.FindEntityType(typeof(EmailRecord))!;
        var columns = email.GetProperties().Select(p => p.Name is nameof(EmailRecord.Html) or nameof(EmailRecord.Text)
            ? $"NULL AS {Quote(p.GetColumnName())}"
            : Quote(p.GetColumnName()));
        return $"SELECT {string.Join(", ", columns)} FROM {Quote(email.GetTableName()!)}";

        static string Quote(string name) => "\"" + name.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";
    }

    public DbSet<RecipientRecord> Recipients => Set<RecipientRecord>();

    public DbSet<EventRecord> Events => Set<EventRecord>();

    public DbSet<EmailLabelRecord> EmailLabels => Set<EmailLabelRecord>();

    public DbSet<HeaderAddressRecord> HeaderAddresses => Set<HeaderAddressRecord>();

    public DbSet<WebhookSubscriptionRecord> WebhookSubscriptions => Set<WebhookSubscriptionRecord>();

    public DbSet<WebhookDeliveryRecord> WebhookDeliveries => Set<WebhookDeliveryRecord>();

    public DbSet<WebhookAttemptRecord> WebhookAttempts => Set<WebhookAttemptRecord>();

    public DbSet<SuppressionRecord> Suppressions => Set<SuppressionRecord>();

    public DbSet<AuditRecord> AuditRecords => Set<AuditRecord>();

    public DbSet<BulkCommandRecord> BulkCommands => Set<BulkCommandRecord>();

    public DbSet<ErasedAddressRecord> ErasedAddresses => Set<ErasedAddressRecord>();

    /// <summary>The longest address a header address row keeps (an API's address is at most 320 characters too).</summary>
    public const int HeaderAddressMaxLength = 320;

    protected override void ConfigureConventions(ModelConfigurationBuilder configurationBuilder)
    {
        configurationBuilder.Properties<DateTime>().HaveConversion<UtcDateTimeConverter>();
        configurationBuilder.Properties<EmailState>().HaveConversion<StateConverter>().HaveMaxLength(16);
        configurationBuilder.Properties<EmailPriority>().HaveConversion<string>().HaveMaxLength(16);
    }

    /// <summary>
    /// An email whose bodies or attachment names the retention purge has not cleared yet, in SQL: the filter of the index
    /// the purge reads (a query must repeat it word for word for the index to serve it). The attachment names are an
    /// array in PostgreSQL and JSON in SQLite.
    /// </summary>
    internal static string WithContentSql(bool postgres) => postgres
        ? "html IS NOT NULL OR text IS NOT NULL OR cardinality(attachment_names) > 0"
        : "html IS NOT NULL OR text IS NOT NULL OR attachment_names <> '[]'";

    /// <summary>
    /// The filters of the two indexes the purge reads (an email's content is kept for a time after it was due): the emails
    /// sent at once, due when accepted, and the scheduled ones, due at <c>scheduled_at</c>.
    /// </summary>
    internal static string WithContentSql(bool postgres, bool scheduled) =>
        $"({WithContentSql(postgres)}) AND scheduled_at IS {(scheduled ? "NOT NULL" : "NULL")}";

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        var email = modelBuilder.Entity<EmailRecord>();
        email.Property(e => e.Id).ValueGeneratedNever();
        email.Property(e => e.Tags).HasConversion(new JsonConverter<List<EmailTag>>(), new JsonColumnComparers.ListComparer<EmailTag>());
        email.Property(e => e.Metadata).HasConversion(new JsonConverter<Dictionary<string, string>>(), new JsonColumnComparers.DictionaryComparer());
        email.Property(e => e.Version).IsConcurrencyToken();
        email.HasMany(e => e.Recipients).WithOne().HasForeignKey(r => r.EmailId);
        email.Property(e => e.FromAddress).HasMaxLength(320);
        email.Property(e => e.TraceId).HasMaxLength(32);

        // The list's keyset order (created_at desc, id desc), alone and behind its equality filters.
        email.HasIndex(e => new { e.AcceptedAt, e.Id });
        email.HasIndex(e => new { e.State, e.AcceptedAt, e.Id });
        email.HasIndex(e => new { e.FromAddress, e.AcceptedAt, e.Id });
        // The retention purge's selections: only the emails whose bodies are still there, so that each run reads those
        // and not every email it has already purged, in the order they became due (accepted, or scheduled for).
        email.HasIndex(e => new { e.AcceptedAt, e.Id }, "WithContent").HasDatabaseName("ix_emails_with_content_accepted_at_id")
            .HasFilter(WithContentSql(Database.IsNpgsql(), scheduled: false));
        email.HasIndex(e => new { e.ScheduledAt, e.Id }, "ScheduledWithContent").HasDatabaseName("ix_emails_scheduled_with_content_scheduled_at_id")
            .HasFilter(WithContentSql(Database.IsNpgsql(), scheduled: true));
        // The header address catch-up's selection: only the emails it has still to read, none once it has caught up.
        email.HasIndex(e => e.Id, "HeaderAddressesPending").HasDatabaseName("ix_emails_header_addresses_pending")
            .HasFilter(HeaderAddressCatchUp.PendingSql);

        var recipient = modelBuilder.Entity<RecipientRecord>();
        recipient.HasKey(r => new { r.EmailId, r.Address });
        recipient.Property(r => r.Version).IsConcurrencyToken();
        // The recipient filter's look-up, and erasure's walk through an address's emails in batches, which starts each
        // batch where the last ended (email_id after it) instead of reading every earlier one again.
        recipient.HasIndex(r => new { r.Address, r.EmailId });
        // Bulk retry's selection: only the few recipients waiting for a retry or given up on are in it.
        recipient.HasIndex(r => new { r.State, r.EmailId }).HasFilter("state IN ('deferred', 'failed')");

        var @event = modelBuilder.Entity<EventRecord>();
        @event.Property(e => e.Id).ValueGeneratedNever();
        @event.HasIndex(e => new { e.EmailId, e.OccurredAt });
        @event.HasIndex(e => e.OccurredAt);

        var label = modelBuilder.Entity<EmailLabelRecord>();
        label.HasKey(l => new { l.EmailId, l.Kind, l.Name, l.Value });
        label.Property(l => l.Kind).HasMaxLength(8);
        label.HasIndex(l => new { l.Kind, l.Name, l.Value });

        var headerAddress = modelBuilder.Entity<HeaderAddressRecord>();
        headerAddress.HasKey(h => new { h.EmailId, h.Address });
        headerAddress.Property(h => h.Address).HasMaxLength(HeaderAddressMaxLength);
        headerAddress.HasIndex(h => new { h.Address, h.EmailId });

        var subscription = modelBuilder.Entity<WebhookSubscriptionRecord>();
        subscription.Property(s => s.Id).ValueGeneratedNever();
        subscription.Property(s => s.Url).HasMaxLength(2048);
        subscription.Property(s => s.Events).HasConversion(new JsonConverter<List<string>>(), new JsonColumnComparers.ListComparer<string>());
        subscription.Property(s => s.DeletedAt).IsConcurrencyToken();
        // The cascade is a backstop: a subscription's deliveries are purged in batches before its row is removed (DeletedSubscriptions).
        subscription.HasMany<WebhookDeliveryRecord>().WithOne().HasForeignKey(d => d.SubscriptionId).OnDelete(DeleteBehavior.Cascade);

        var delivery = modelBuilder.Entity<WebhookDeliveryRecord>();
        delivery.Property(d => d.Id).ValueGeneratedNever();
        delivery.Property(d => d.MessageId).HasMaxLength(64);
        delivery.Property(d => d.EventType).HasMaxLength(32);
        delivery.Property(d => d.Status).HasMaxLength(16);
        delivery.Property(d => d.TraceParent).HasMaxLength(55);
        delivery.HasIndex(d => new { d.Status, d.NextAttemptAt }).HasFilter("status = 'pending'");
        // The dispatcher's claim: each enabled subscription's oldest due deliveries, a few index entries whatever its backlog.
        delivery.HasIndex(d => new { d.SubscriptionId, d.NextAttemptAt }).HasFilter("status = 'pending'");
        delivery.HasIndex(d => new { d.SubscriptionId, d.CreatedAt });
        // The delivery log's status filter, newest first: without it, ?status=failed on a subscription with millions of
        // delivered rows and a few failed ones read them all through the index above. Also a disabled subscription's
        // pending deliveries, which are marked skipped a batch at a time (DisabledSubscriptions).
        delivery.HasIndex(d => new { d.SubscriptionId, d.Status, d.CreatedAt, d.Id });
        delivery.HasIndex(d => d.EmailId);
        // The retention purge's selection, oldest first.
        delivery.HasIndex(d => d.CreatedAt);
        delivery.HasMany(d => d.Log).WithOne().HasForeignKey(a => a.DeliveryId).OnDelete(DeleteBehavior.Cascade);

        var attempt = modelBuilder.Entity<WebhookAttemptRecord>();
        attempt.Property(a => a.Id).ValueGeneratedNever();
        attempt.HasIndex(a => a.DeliveryId);

        var suppression = modelBuilder.Entity<SuppressionRecord>();
        suppression.HasKey(s => s.Address);
        suppression.Property(s => s.Address).HasMaxLength(320);
        suppression.Property(s => s.Source).HasMaxLength(16);
        suppression.HasIndex(s => s.CreatedAt);

        var audit = modelBuilder.Entity<AuditRecord>();
        audit.Property(a => a.Id).ValueGeneratedNever();
        audit.Property(a => a.Action).HasMaxLength(64);
        audit.HasIndex(a => a.OccurredAt);
        // A webhook subscription's history (WebhookHistory): only its records, whose subject is short, are in it.
        audit.HasIndex(a => new { a.Subject, a.OccurredAt }, "WebhookHistory").HasDatabaseName("ix_audit_records_webhook_subject_occurred_at")
            .HasFilter(WebhookHistory.IndexFilterSql);

        var erased = modelBuilder.Entity<ErasedAddressRecord>();
        erased.HasKey(e => e.Hash);
        erased.Property(e => e.Hash).HasMaxLength(64);
        // The recorder asks for the erasures since its batch's oldest email was accepted: almost always none.
        erased.HasIndex(e => e.ErasedAt);

        // Rows live from a bulk operation's commit to the broker's confirms: the primary key's order is the publisher's.
        var bulkCommand = modelBuilder.Entity<BulkCommandRecord>();
        bulkCommand.Property(c => c.Id).ValueGeneratedNever();
        bulkCommand.Property(c => c.MessageType).HasMaxLength(64);
        bulkCommand.Property(c => c.TraceParent).HasMaxLength(55);

        // Read only: the bodies of large emails, which the ingress's migrations create and the ingress writes.
        StoredContents.Configure(modelBuilder, migrated: false);
    }

    private sealed class StateConverter() : ValueConverter<EmailState, string>(
        state => state.ToWire(), value => Enum.Parse<EmailState>(value, ignoreCase: true));

    private sealed class JsonConverter<T>() : ValueConverter<T, string>(
        value => JsonSerializer.Serialize(value, JsonSerializerOptions.Default),
        json => JsonSerializer.Deserialize<T>(json, JsonSerializerOptions.Default)!)
        where T : new();
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
