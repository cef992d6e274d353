using EmailPlatform.Status.Storage;
using EmailPlatform.Status.Webhooks;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.ChangeTracking;
using Microsoft.EntityFrameworkCore.Metadata;
using Npgsql;

namespace EmailPlatform.Status.Recording;

/// <summary>
/// Writes a recorder batch's rows to PostgreSQL set-based instead of one statement per row: the added rows of the hot
/// tables with one binary <c>COPY</c> each, the changed ones with one <c>UPDATE … FROM unnest(…)</c> each. What it
/// wrote is marked unchanged, so the <c>SaveChanges</c> that follows writes only the rest (suppressions, and the rare
/// email whose details arrived after its outcomes). Columns, types and value conversions come from the EF model, so the two stay in step.
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

            var updated = modified.Count > 0 ? await UpdateAsync(connection, entityType, modified, cancellationToken) : [];
            foreach (var entry in added.Concat(updated))
            {
                entry.State = EntityState.Unchanged;
            }
        }
    }

    /// <summary>
    /// One <c>UPDATE … FROM unnest(…)</c> of the changed columns, one array parameter per column: each row is found through
    /// the primary key (the planner takes an unnest for a few rows), and nothing is created per batch. Rows with a changed
    /// array column (an email whose details just arrived, rare) cannot travel in an array of arrays: they are left to
    /// <c>SaveChanges</c>.
    /// </summary>
    /// <returns>The entries written.</returns>
    private static async Task<List<EntityEntry>> UpdateAsync(
        NpgsqlConnection connection, IEntityType entityType, List<EntityEntry> modified, CancellationToken cancellationToken)
    {
        var arrays = entityType.GetProperties().Where(p => StoreType(p).EndsWith("[]", StringComparison.Ordinal)).ToList();
        var rows = modified.Where(e => !arrays.Any(p => e.Property(p.Name).IsModified)).ToList();
        var key = entityType.FindPrimaryKey()!.Properties;
        var changed = entityType.GetProperties()
            .Where(p => !p.IsPrimaryKey() && !arrays.Contains(p) && rows.Any(e => e.Property(p.Name).IsModified)).ToList();
        if (rows.Count == 0 || changed.Count == 0)
        {
            return [];
        }

        var columns = key.Concat(changed).ToList();
        await using var command = new NpgsqlCommand { Connection = connection };
        for (var i = 0; i < columns.Count; i++)
        {
            var property = columns[i];
            var type = property.GetTypeMapping().Converter?.ProviderClrType ?? property.ClrType;
            if (type.IsValueType && Nullable.GetUnderlyingType(type) is null && property.IsNullable)
            {
                type = typeof(Nullable<>).MakeGenericType(type);
            }

            var values = Array.CreateInstance(type, rows.Count);
            for (var row = 0; row < rows.Count; row++)
            {
                values.SetValue(ProviderValue(property, rows[row].Property(property.Name).CurrentValue), row);
            }

            command.Parameters.Add(new NpgsqlParameter { ParameterName = "p" + i, Value = values, DataTypeName = StoreType(property) + "[]" });
        }

        var names = columns.Select(c => Quote(c.GetColumnName())).ToList();
        var set = string.Join(", ", changed.Select(c => $"{Quote(c.GetColumnName())} = u.{Quote(c.GetColumnName())}"));
        var match = string.Join(" AND ", key.Select(k => $"t.{Quote(k.GetColumnName())} = u.{Quote(k.GetColumnName())}"));
        command.CommandText = $"UPDATE {Quote(entityType.GetTableName()!)} AS t SET {set} " +
            $"FROM unnest({string.Join(", ", columns.Select((_, i) => "@p" + i))}) AS u({string.Join(", ", names)}) WHERE {match}";
        await command.ExecuteNonQueryAsync(cancellationToken);
        return rows;
    }

    private static object? ProviderValue(IProperty property, object? value) =>
        property.GetTypeMapping().Converter is { } converter && value is not null ? converter.ConvertToProvider(value) : value;

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
                var value = ProviderValue(property, entry.Property(property.Name).CurrentValue);

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

    private static string Quote(string identifier) => "\"" + identifier.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";
}
