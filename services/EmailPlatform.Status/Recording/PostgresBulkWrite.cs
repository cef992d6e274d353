using EmailPlatform.Status.Storage;
using EmailPlatform.Status.Webhooks;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.ChangeTracking;
using Microsoft.EntityFrameworkCore.Metadata;
using Npgsql;

namespace EmailPlatform.Status.Recording;

/// <summary>
/// Writes a recorder batch's rows to PostgreSQL set-based instead of one statement per row: the added rows of the hot
/// tables with one binary <c>COPY</c> each, the changed ones with one <c>COPY</c> into a temporary table and one
/// <c>INSERT … ON CONFLICT DO UPDATE</c> from it. What it wrote is marked unchanged, so the <c>SaveChanges</c> that follows writes only the
/// rest (suppressions). Columns, types and value conversions come from the EF model, so the two stay in step.
/// The version columns are written, not checked: the recorder holds the emails' row locks, which is the stronger guarantee.
/// </summary>
internal static class PostgresBulkWrite
{
    /// <summary>In dependency order: emails before the rows that refer to them.</summary>
    private static readonly Type[] Tables =
        [typeof(EmailRecord), typeof(RecipientRecord), typeof(EventRecord), typeof(EmailLabelRecord), typeof(WebhookDeliveryRecord)];

    /// <remarks>
    /// Changes are detected once, here: every other look at the change tracker (and the <c>SaveChanges</c> that follows)
    /// would otherwise compare every tracked row again, JSON columns included.
    /// </remarks>
    public static async Task WriteAsync(StatusDbContext db, CancellationToken cancellationToken)
    {
        db.ChangeTracker.DetectChanges();
        db.ChangeTracker.AutoDetectChangesEnabled = false;
        var entries = db.ChangeTracker.Entries().Where(e => e.State is EntityState.Added or EntityState.Modified).ToLookup(e => e.Metadata.ClrType);
        var connection = (NpgsqlConnection)db.Database.GetDbConnection();
        foreach (var clrType in Tables)
        {
            var entityType = db.Model.FindEntityType(clrType)!;
            var added = entries[clrType].Where(e => e.State == EntityState.Added).ToList();
            var modified = entries[clrType].Where(e => e.State == EntityState.Modified).ToList();
            if (added.Count > 0)
            {
                await CopyAsync(connection, entityType, entityType.GetTableName()!, added, cancellationToken);
            }

            if (modified.Count > 0)
            {
                await UpdateAsync(connection, entityType, modified, cancellationToken);
            }

            foreach (var entry in added.Concat(modified))
            {
                entry.State = EntityState.Unchanged;
            }
        }
    }

    private static async Task UpdateAsync(NpgsqlConnection connection, IEntityType entityType, List<EntityEntry> modified, CancellationToken cancellationToken)
    {
        var table = entityType.GetTableName()!;
        var staging = "staging_" + table;
        var key = entityType.FindPrimaryKey()!.Properties.Select(p => p.GetColumnName()).ToList();
        var changed = entityType.GetProperties()
            .Where(p => modified.Any(e => e.Property(p.Name).IsModified))
            .Select(p => p.GetColumnName()).Except(key).ToList();
        if (changed.Count == 0)
        {
            return;
        }

        // Session-local and emptied at each commit, so it is created once per pooled connection. The rows go back through
        // INSERT … ON CONFLICT rather than UPDATE … FROM: each finds its row through the primary key, whatever the planner
        // would guess about a temporary table without statistics.
        await ExecuteAsync(connection, $"CREATE TEMP TABLE IF NOT EXISTS {Quote(staging)} (LIKE {Quote(table)}) ON COMMIT DELETE ROWS", cancellationToken);
        await CopyAsync(connection, entityType, staging, modified, cancellationToken);
        var columns = string.Join(", ", entityType.GetProperties().Select(p => Quote(p.GetColumnName())));
        var set = string.Join(", ", changed.Select(c => $"{Quote(c)} = EXCLUDED.{Quote(c)}"));
        await ExecuteAsync(connection, $"""
            INSERT INTO {Quote(table)} ({columns}) SELECT {columns} FROM {Quote(staging)}
            ON CONFLICT ({string.Join(", ", key.Select(Quote))}) DO UPDATE SET {set}
            """, cancellationToken);
    }

    private static async Task CopyAsync(NpgsqlConnection connection, IEntityType entityType, string table, List<EntityEntry> entries, CancellationToken cancellationToken)
    {
        var properties = entityType.GetProperties().ToList();
        var columns = string.Join(", ", properties.Select(p => Quote(p.GetColumnName())));
        await using var importer = await connection.BeginBinaryImportAsync($"COPY {Quote(table)} ({columns}) FROM STDIN (FORMAT BINARY)", cancellationToken);
        foreach (var entry in entries)
        {
            await importer.StartRowAsync(cancellationToken);
            foreach (var property in properties)
            {
                var value = entry.Property(property.Name).CurrentValue;
                if (property.GetTypeMapping().Converter is { } converter && value is not null)
                {
                    value = converter.ConvertToProvider(value);
                }

                if (value is null)
                {
                    await importer.WriteNullAsync(cancellationToken);
                }
                else
                {
                    await importer.WriteAsync(value, StoreType(property), cancellationToken);
                }
            }
        }

        await importer.CompleteAsync(cancellationToken);
    }

    private static string StoreType(IProperty property)
    {
        var storeType = property.GetColumnType();
        // COPY names the type without its length: character varying(16) is written as character varying.
        var length = storeType.IndexOf('(', StringComparison.Ordinal);
        return length < 0 ? storeType : storeType[..length];
    }

    private static async Task ExecuteAsync(NpgsqlConnection connection, string sql, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private static string Quote(string identifier) => "\"" + identifier.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";
}
