using System.Data.Common;
using Microsoft.EntityFrameworkCore.Diagnostics;

namespace EmailPlatform.Status.Tests.Support;

/// <summary>
/// Starts another writer (on a connection of its own) once the first query of this context has been read, and lets this
/// one go on when that writer has committed or is waiting for this one. On PostgreSQL the wait shows as a session
/// waiting for a lock; on SQLite a writer waiting for the write lock shows nowhere, so it is taken to wait once it has
/// not finished within <paramref name="sqliteGrace"/> (it commits in milliseconds when nothing holds it).
/// </summary>
internal sealed class WriterAfterFirstQuery(Func<Task> write, string? postgresConnectionString, TimeSpan sqliteGrace) : DbCommandInterceptor
{
    private bool _started;

    /// <summary>The other writer, once started.</summary>
    public Task Writer { get; private set; } = Task.CompletedTask;

    public override async ValueTask<DbDataReader> ReaderExecutedAsync(
        DbCommand command, CommandExecutedEventData eventData, DbDataReader result, CancellationToken cancellationToken = default)
    {
        if (!_started)
        {
            _started = true;
            Writer = Task.Run(write, CancellationToken.None);
            await Task.WhenAny(Writer, postgresConnectionString is null ? Task.Delay(sqliteGrace, cancellationToken) : LockWaits.AnyAsync(postgresConnectionString, cancellationToken));
        }

        return result;
    }
}
