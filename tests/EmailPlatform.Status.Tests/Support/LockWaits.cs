using Npgsql;

namespace EmailPlatform.Status.Tests.Support;

/// <summary>What PostgreSQL shows of writers blocked on each other: a session waiting for a lock in the test's database.</summary>
internal static class LockWaits
{
    /// <summary>Completes once a session of the database of <paramref name="connectionString"/> waits for a lock.</summary>
    public static async Task AnyAsync(string connectionString, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()", connection);
        while ((long)(await command.ExecuteScalarAsync(cancellationToken))! == 0)
        {
            await Task.Delay(20, cancellationToken);
        }
    }
}
