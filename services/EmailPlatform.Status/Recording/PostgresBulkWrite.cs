using System.Collections.Concurrent;
using EmailPlatform.Status.Storage;
using EmailPlatform.Status.Webhooks;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.ChangeTracking;
using Microsoft.EntityFrameworkCore.Metadata;
using Microsoft.EntityFrameworkCore.Storage.ValueConversion;
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
        [typeof(EmailRecord), typeof(RecipientRecord), typeof(EventRecord), typeof(EmailLabelRecord), typeof(HeaderAddressRecord),
         typeof(WebhookDeliveryRecord)];

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
            var table = Table.For(db.Model.FindEntityType(clrType)!);
            var added = entries[clrType].Where(e => e.State == EntityState.Added).ToList();
            var modified = entries[clrType].Where(e => e.State == EntityState.Modified).ToList();
            if (added.Count > 0)
            {
                await CopyAsync(connection, table, added, cancellationToken);
            }

            var updated = modified.Count > 0 ? await UpdateAsync(connection, table, modified, cancellationToken) : [];
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
        NpgsqlConnection connection, Table table, List<EntityEntry> modified, CancellationToken cancellationToken)
    {
        var rows = modified.Where(e => !table.Arrays.Any(c => e.Property(c.Property).IsModified)).ToList();
        var changed = table.Updatable.Where(c => rows.Any(e => e.Property(c.Property).IsModified)).ToList();
        if (rows.Count == 0 || changed.Count == 0)
        {
            return [];
        }

        var columns = table.Key.Concat(changed).ToList();
        var values = rows.ConvertAll(e => e.CurrentValues);
        await using var command = new NpgsqlCommand { Connection = connection };
        for (var i = 0; i < columns.Count; i++)
        {
            var column = columns[i];
            var array = Array.CreateInstance(column.ProviderType, rows.Count);
            for (var row = 0; row < rows.Count; row++)
            {
                array.SetValue(column.ToProvider(values[row][column.Property]), row);
            }

            command.Parameters.Add(new NpgsqlParameter { ParameterName = "p" + i, Value = array, DataTypeName = column.StoreType + "[]" });
        }

        var set = string.Join(", ", changed.Select(c => $"{c.Name} = u.{c.Name}"));
        var match = string.Join(" AND ", table.Key.Select(k => $"t.{k.Name} = u.{k.Name}"));
        command.CommandText = $"UPDATE {table.Name} AS t SET {set} " +
            $"FROM unnest({string.Join(", ", columns.Select((_, i) => "@p" + i))}) AS u({string.Join(", ", columns.Select(c => c.Name))}) WHERE {match}";
        await command.ExecuteNonQueryAsync(cancellationToken);
        return rows;
    }

    private static async Task CopyAsync(NpgsqlConnection connection, Table table, List<EntityEntry> entries, CancellationToken cancellationToken)
    {
        await using var importer = await connection.BeginBinaryImportAsync(table.Copy, cancellationToken);
        foreach (var entry in entries)
        {
            var values = entry.CurrentValues;
            await importer.StartRowAsync(cancellationToken);
            foreach (var column in table.Columns)
            {
                var value = column.ToProvider(values[column.Property]);
                if (value is null)
                {
                    await importer.WriteNullAsync(cancellationToken);
                }
                else
                {
                    await importer.WriteAsync(value, column.StoreType, cancellationToken);
                }
            }
        }

        await importer.CompleteAsync(cancellationToken);
    }

    /// <summary>What the statements of one table need from the model, worked out once per entity type and process.</summary>
    private sealed class Table
    {
        private static readonly ConcurrentDictionary<IEntityType, Table> Plans = new();

        private Table(IEntityType entityType)
        {
            Name = Quote(entityType.GetTableName()!);
            Columns = [.. entityType.GetProperties().Select(p => new Column(p))];
            Copy = $"COPY {Name} ({string.Join(", ", Columns.Select(c => c.Name))}) FROM STDIN (FORMAT BINARY)";
            Key = [.. Columns.Where(c => c.Property.IsPrimaryKey())];
            Arrays = [.. Columns.Where(c => c.StoreType.EndsWith("[]", StringComparison.Ordinal))];
            Updatable = [.. Columns.Where(c => !c.Property.IsPrimaryKey() && !Arrays.Contains(c))];
        }

        public string Name { get; }

        public string Copy { get; }

        public IReadOnlyList<Column> Columns { get; }

        public IReadOnlyList<Column> Key { get; }

        /// <summary>Array columns: an <c>unnest</c> cannot carry them.</summary>
        public IReadOnlyList<Column> Arrays { get; }

        public IReadOnlyList<Column> Updatable { get; }

        public static Table For(IEntityType entityType) => Plans.GetOrAdd(entityType, e => new Table(e));
    }

    private sealed class Column
    {
        private readonly ValueConverter? _converter;

        public Column(IProperty property)
        {
            Property = property;
            Name = Quote(property.GetColumnName());
            StoreType = StoreTypeOf(property);
            _converter = property.GetTypeMapping().Converter;
            var type = _converter?.ProviderClrType ?? property.ClrType;
            ProviderType = type.IsValueType && Nullable.GetUnderlyingType(type) is null && property.IsNullable
                ? typeof(Nullable<>).MakeGenericType(type)
                : type;
        }

        public IProperty Property { get; }

        public string Name { get; }

        /// <summary>The column's type as <c>COPY</c> and the array parameters name it.</summary>
        public string StoreType { get; }

        public Type ProviderType { get; }

        public object? ToProvider(object? value) => _converter is not null && value is not null ? _converter.ConvertToProvider(value) : value;
    }

    private static string StoreTypeOf(IProperty property)
    {
        var storeType = property.GetColumnType();
        // COPY names the type without its length: character varying(16) is written as character varying.
        var length = storeType.IndexOf('(', StringComparison.Ordinal);
        return length < 0 ? storeType : storeType[..length];
    }

    private static string Quote(string identifier) => "\"" + identifier.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";
}
