using Microsoft.EntityFrameworkCore.Diagnostics;
using Npgsql;

namespace EmailPlatform.Status.Tests.Support;

/// <summary>
/// Holds a writer just before it saves, with its row locks taken, until PostgreSQL shows another session waiting for
/// a lock in the same database: the second writer then really is blocked behind the first on every run.
/// </summary>
internal sealed class HoldUntilAnotherWriterWaits(string connectionString) : SaveChangesInterceptor
{
    private readonly TaskCompletionSource _holding = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes when the writer is held, its locks taken.</summary>
    public Task Holding => _holding.Task;

    public override async ValueTask<InterceptionResult<int>> SavingChangesAsync(
        DbContextEventData eventData, InterceptionResult<int> result, CancellationToken cancellationToken = default)
    {
        _holding.TrySetResult();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()", connection);
        while ((long)(await command.ExecuteScalarAsync(cancellationToken))! == 0)
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException("No other writer waited for a lock held by this one.");
            }

            await Task.Delay(50, cancellationToken);
        }

        return result;
    }
}
