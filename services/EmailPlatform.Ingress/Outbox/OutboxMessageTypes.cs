using System.Collections.Frozen;
using System.Text.Json;
using EmailPlatform.Contracts;
using EmailPlatform.ServiceDefaults.Json;

namespace EmailPlatform.Ingress.Outbox;

/// <summary>
/// The messages the ingress writes to its outbox, stored by name and read back as their contract types: one bus
/// message per row, or the three of an <see cref="Outbox.AcceptedEmail"/>.
/// </summary>
internal static class OutboxMessageTypes
{
    /// <summary>The row type of an email accepted for now (see <see cref="Outbox.AcceptedEmail"/>).</summary>
    public const string AcceptedEmailRow = nameof(global::EmailPlatform.Ingress.Outbox.AcceptedEmail);

    private static readonly FrozenDictionary<string, Type> ByName = new[]
    {
        typeof(SendEmail), typeof(EmailAccepted), typeof(EmailQueued), typeof(EmailRescheduled), typeof(EmailCanceled),
    }.ToFrozenDictionary(t => t.Name, StringComparer.Ordinal);

    /// <summary>
    /// Every row type this version reads. The publisher claims only rows of these types: during a rolling upgrade an
    /// older replica shares the outbox with newer ones (<c>FOR UPDATE SKIP LOCKED</c>), and a row of a type added since
    /// (as <see cref="AcceptedEmailRow"/> once was) is left for a replica that knows it instead of being parked.
    /// </summary>
    public static readonly IReadOnlyList<string> Known = [AcceptedEmailRow, .. ByName.Keys];

    /// <summary>The row types that carry the <see cref="SendEmail"/> of their email.</summary>
    public static readonly IReadOnlyList<string> CommandRows = [nameof(SendEmail), AcceptedEmailRow];

    /// <summary>Whether a row of this type carries the <see cref="SendEmail"/> of its email.</summary>
    public static bool HasCommand(string name) => CommandRows.Contains(name);

    public static string NameOf<T>() where T : class => typeof(T) == typeof(AcceptedEmail) || ByName.ContainsKey(typeof(T).Name)
        ? typeof(T).Name
        : throw new ArgumentException($"{typeof(T).Name} is not an outbox message type.");

    /// <summary>The bus messages a row stands for, in the order they are announced; a scheduled command with its time.</summary>
    public static IReadOnlyList<(object Message, Type Type)> Read(OutboxMessage row)
    {
        if (row.MessageType == AcceptedEmailRow)
        {
            return (JsonSerializer.Deserialize<AcceptedEmail>(row.Payload, StoredJson.Options)
                ?? throw new InvalidOperationException($"Outbox message {row.Id} has an empty payload.")).Messages();
        }

        var type = ByName.TryGetValue(row.MessageType, out var known)
            ? known
            : throw new InvalidOperationException($"Outbox message {row.Id} has the unknown type '{row.MessageType}'.");
        var message = JsonSerializer.Deserialize(row.Payload, type, StoredJson.Options)
            ?? throw new InvalidOperationException($"Outbox message {row.Id} has an empty payload.");
        return [(message switch
        {
            SendEmail command => WithScheduledAt(command, row),
            // Queued when it is handed to the workers: at the row's time, which a reschedule moves.
            EmailQueued queued => queued with { Timestamp = DueAt(row) },
            _ => message,
        }, type)];
    }

    private static DateTimeOffset DueAt(OutboxMessage row) => new(DateTime.SpecifyKind(row.AvailableAt, DateTimeKind.Utc));

    /// <summary>
    /// A command in a row of its own is a scheduled email's (<see cref="Outbox.Accept"/>) or one a reschedule split from
    /// its <see cref="AcceptedEmailRow"/>, and it is due at the row's <c>available_at</c>, which every reschedule moves:
    /// that is the time it carries (<see cref="SendEmail.ScheduledAt"/>). It is taken from the row, not written into the
    /// payload, so it is the email's latest time whichever replica wrote or moved the row (one of the version before,
    /// during a rolling upgrade, moves only <c>available_at</c>), and the same each time the row is read. A row due no
    /// later than the accept (an email for now, as stored before <see cref="AcceptedEmailRow"/>) carries none.
    /// </summary>
    private static SendEmail WithScheduledAt(SendEmail command, OutboxMessage row)
    {
        var due = DueAt(row);
        return due > command.AcceptedAt ? command with { ScheduledAt = due } : command;
    }

    /// <summary>
    /// Whether <paramref name="exception"/>, thrown by <see cref="Read"/> or <see cref="Command"/>, says that the row's payload
    /// cannot be read (the publisher parks such a row, <see cref="OutboxPublisher.Parked"/>).
    /// </summary>
    public static bool IsUnreadable(Exception exception) =>
        exception is InvalidOperationException or JsonException or NotSupportedException or ArgumentException;

    /// <summary>The bus messages a row stands for (<see cref="Read"/>), or none when its payload cannot be read.</summary>
    public static IReadOnlyList<(object Message, Type Type)> ReadOrNone(OutboxMessage row)
    {
        try
        {
            return Read(row);
        }
        catch (Exception ex) when (IsUnreadable(ex))
        {
            return [];
        }
    }

    /// <summary>The command a row carries (see <see cref="HasCommand"/>).</summary>
    public static SendEmail Command(OutboxMessage row) =>
        Read(row).Select(m => m.Message).OfType<SendEmail>().Single();
}
