using System.Globalization;
using System.Text;
using EmailPlatform.Testing;
using Npgsql;

namespace EmailPlatform.Resilience.Tests.Support;

/// <summary>
/// Where the accepted emails of a run that did not settle are, for the failure message: how many reached the relay,
/// the ingress outbox rows not yet published, the worker's delivery ledger by state (and how many of its rows are
/// overdue for the retry scheduler), its kept commands, and the broker's queues with their ready and unacknowledged
/// messages and consumers. With these a stuck run says whether the commands never left the ingress, wait in a lane
/// no worker takes them from, are held by a worker that does not finish them, or were sent but not recorded.
/// </summary>
internal static class StuckRunReport
{
    public static async Task<string> DescribeAsync(PlatformStack stack, Relay relay, IReadOnlyList<Guid> accepted, Func<Task<string>>? queues)
    {
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"Where the {accepted.Count} accepted emails are:");
        text.AppendLine(CultureInfo.InvariantCulture, $"  relay: {relay.ReceivedCount} messages received");
        text.AppendLine("  " + await QueryAsync(stack, "ingress outbox, unpublished",
            "SELECT message_type, count(*), count(*) FILTER (WHERE available_at <= now()) FROM outbox_messages " +
            "WHERE published_at IS NULL AND email_id = ANY(@ids) GROUP BY message_type ORDER BY 1", accepted, "{0}: {1} ({2} due)"));
        text.AppendLine("  " + await QueryAsync(stack, "delivery ledger",
            "SELECT state, count(*), count(*) FILTER (WHERE due_at <= now()) FROM deliveries " +
            "WHERE email_id = ANY(@ids) GROUP BY state ORDER BY 1", accepted, "{0}: {1} ({2} overdue)"));
        text.AppendLine("  " + await QueryAsync(stack, "delivery ledger, no row yet",
            "SELECT count(*) FROM unnest(@ids) AS i(id) WHERE NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.email_id = i.id)", accepted, "{0}"));
        text.AppendLine("  " + await QueryAsync(stack, "worker's kept commands",
            "SELECT count(*) FROM retry_messages WHERE email_id = ANY(@ids)", accepted, "{0}"));
        if (queues is not null)
        {
            text.AppendLine("  broker queues (name, ready, unacknowledged, consumers):");
            string listing;
            try
            {
                listing = await queues();
            }
            catch (Exception ex)
            {
                listing = $"could not be listed: {ex.GetType().Name}: {ex.Message}";
            }

            foreach (var line in listing.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                text.AppendLine("    " + line);
            }
        }

        return text.ToString();
    }

    private static async Task<string> QueryAsync(PlatformStack stack, string what, string sql, IReadOnlyList<Guid> ids, string format)
    {
        try
        {
            await using var connection = new NpgsqlConnection(stack.ConnectionString);
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand(sql, connection);
            command.Parameters.AddWithValue("ids", ids.ToArray());
            await using var reader = await command.ExecuteReaderAsync();
            var rows = new List<string>();
            while (await reader.ReadAsync())
            {
                var values = Enumerable.Range(0, reader.FieldCount).Select(i => reader.IsDBNull(i) ? "-" : Convert.ToString(reader.GetValue(i), CultureInfo.InvariantCulture)).ToArray<object?>();
                rows.Add(string.Format(CultureInfo.InvariantCulture, format, values));
            }

            return $"{what}: {(rows.Count == 0 ? "none" : string.Join(", ", rows))}";
        }
        catch (Exception ex) when (ex is NpgsqlException or InvalidOperationException)
        {
            return $"{what}: could not be read ({ex.GetType().Name}: {ex.Message})";
        }
    }
}
