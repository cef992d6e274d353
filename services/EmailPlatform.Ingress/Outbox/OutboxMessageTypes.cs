using System.Collections.Frozen;
using System.Text.Json;
using EmailPlatform.Contracts;

namespace EmailPlatform.Ingress.Outbox;

/// <summary>The messages the ingress writes to its outbox, stored by name and read back as their contract type.</summary>
internal static class OutboxMessageTypes
{
    private static readonly FrozenDictionary<string, Type> ByName = new[]
    {
        typeof(SendEmail), typeof(EmailAccepted), typeof(EmailQueued), typeof(EmailRescheduled), typeof(EmailCanceled),
    }.ToFrozenDictionary(t => t.Name, StringComparer.Ordinal);

    /// <summary>The bus's own JSON shape, independent of the public API's.</summary>
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.General);

    public static bool IsCommand(string name) => name == nameof(SendEmail);

    public static string NameOf<T>() where T : class => ByName.ContainsKey(typeof(T).Name)
        ? typeof(T).Name
        : throw new ArgumentException($"{typeof(T).Name} is not an outbox message type.");

    public static (object Message, Type Type) Read(OutboxMessage row)
    {
        var type = ByName.TryGetValue(row.MessageType, out var known)
            ? known
            : throw new InvalidOperationException($"Outbox message {row.Id} has the unknown type '{row.MessageType}'.");
        var message = JsonSerializer.Deserialize(row.Payload, type, Json)
            ?? throw new InvalidOperationException($"Outbox message {row.Id} has an empty payload.");
        return (message, type);
    }
}
