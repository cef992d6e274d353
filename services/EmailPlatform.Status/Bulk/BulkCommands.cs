using System.Collections.Frozen;
using System.Diagnostics;
using System.Text.Json;
using EmailPlatform.Contracts;
using EmailPlatform.ServiceDefaults.Json;

namespace EmailPlatform.Status.Bulk;

/// <summary>How a bulk operation's commands are stored in <c>bulk_commands</c> rows and read back.</summary>
internal static class BulkCommands
{
    /// <summary>Commands per row: one row is published, and its confirms awaited, in one go.</summary>
    public const int PerRow = 500;

    private static readonly FrozenDictionary<string, Type> ByName = new[] { typeof(RetryRecipients), typeof(CancelEmail) }
        .ToFrozenDictionary(t => t.Name, StringComparer.Ordinal);

    /// <summary>
    /// The row types this version reads. The publisher claims only these: during a rolling upgrade an older replica
    /// shares the rows with newer ones, and a row of a type added since is left for a replica that knows it instead of
    /// being parked.
    /// </summary>
    public static readonly IReadOnlyList<string> Known = [.. ByName.Keys];

    public static List<BulkCommandRecord> Rows<T>(Guid auditId, IEnumerable<T> commands, DateTime now) where T : class
    {
        var type = ByName.GetValueOrDefault(typeof(T).Name) == typeof(T)
            ? typeof(T).Name
            : throw new ArgumentException($"{typeof(T).Name} is not a bulk command.");
        return [.. commands.Chunk(PerRow).Select(chunk => new BulkCommandRecord
        {
            Id = Guid.CreateVersion7(),
            AuditId = auditId,
            MessageType = type,
            Payload = JsonSerializer.Serialize(chunk, StoredJson.Options),
            CreatedAt = now,
            TraceParent = Activity.Current?.Id,
        })];
    }

    /// <summary>The row's commands and their contract type.</summary>
    /// <exception cref="InvalidOperationException">The type is unknown or the payload holds no commands.</exception>
    /// <exception cref="JsonException">The payload is not the JSON of such commands.</exception>
    public static (Type Type, object[] Commands) Read(BulkCommandRecord row)
    {
        var type = ByName.TryGetValue(row.MessageType, out var known)
            ? known
            : throw new InvalidOperationException($"Bulk command row {row.Id} has the unknown type '{row.MessageType}'.");
        var commands = JsonSerializer.Deserialize(row.Payload, type.MakeArrayType(), StoredJson.Options) as object[];
        return commands is { Length: > 0 } && commands.All(c => c is not null)
            ? (type, commands)
            : throw new InvalidOperationException($"Bulk command row {row.Id} holds no commands.");
    }
}
