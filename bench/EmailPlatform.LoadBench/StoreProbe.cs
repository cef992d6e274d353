using Npgsql;

namespace EmailPlatform.LoadBench;

/// <summary>
/// Reads what the services recorded, straight from their tables in the stack's database: how many emails the status
/// service holds as delivered (and when it recorded each), the outbox's backlog and the worker's own records. Reading
/// the store rather than polling the API keeps the measurement from loading the services it measures.
/// </summary>
internal sealed class StoreProbe(string connectionString)
{
    public Task<long> StatusDeliveredAsync() => ScalarAsync("SELECT count(*) FROM emails WHERE state = 'delivered'");

    /// <summary>Emails in a state that no longer changes by itself.</summary>
    public Task<long> StatusTerminalAsync() =>
        ScalarAsync("SELECT count(*) FROM emails WHERE state IN ('delivered', 'bounced', 'failed', 'suppressed', 'canceled')");

    public Task<long> OutboxPendingAsync() => ScalarAsync("SELECT count(*) FROM outbox_messages WHERE published_at IS NULL");

    /// <summary>When the status service recorded each email's (last) delivery.</summary>
    public async Task<Dictionary<Guid, DateTime>> DeliveredRecordedAtAsync(IReadOnlyCollection<Guid> ids)
    {
        var result = new Dictionary<Guid, DateTime>(ids.Count);
        await using var connection = await OpenAsync();
        await using var command = new NpgsqlCommand(
            "SELECT email_id, max(recorded_at) FROM events WHERE type = 'email.delivered' AND email_id = ANY(@ids) GROUP BY email_id", connection);
        command.Parameters.AddWithValue("ids", ids.ToArray());
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            result[reader.GetGuid(0)] = DateTime.SpecifyKind(reader.GetDateTime(1), DateTimeKind.Utc);
        }

        return result;
    }

    /// <summary>Recipients the workers recorded as delivered, with the first and last such outcome's time.</summary>
    public async Task<(long Count, DateTime? First, DateTime? Last)> WorkerDeliveredAsync()
    {
        await using var connection = await OpenAsync();
        await using var command = new NpgsqlCommand(
            "SELECT count(*), min(outcome_at), max(outcome_at) FROM deliveries WHERE state = 'delivered'", connection);
        await using var reader = await command.ExecuteReaderAsync();
        await reader.ReadAsync();
        DateTime? At(int i) => reader.IsDBNull(i) ? null : DateTime.SpecifyKind(reader.GetDateTime(i), DateTimeKind.Utc);
        return (reader.GetInt64(0), At(1), At(2));
    }

    private async Task<long> ScalarAsync(string sql)
    {
        await using var connection = await OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return Convert.ToInt64(await command.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
    }

    private async Task<NpgsqlConnection> OpenAsync()
    {
        var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        return connection;
    }
}
