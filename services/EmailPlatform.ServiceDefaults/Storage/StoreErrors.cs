using System.Data.Common;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace EmailPlatform.ServiceDefaults.Storage;

/// <summary>Tells apart, for both providers, the store errors that callers handle differently.</summary>
public static class StoreErrors
{
    /// <summary>A unique or primary key constraint refused the write: another writer got there first.</summary>
    public static bool IsUniqueViolation(DbUpdateException exception) => exception.InnerException switch
    {
        PostgresException postgres => postgres.SqlState == PostgresErrorCodes.UniqueViolation,
        SqliteException sqlite => sqlite.SqliteErrorCode == 19 && sqlite.SqliteExtendedErrorCode is 1555 or 2067,
        _ => false,
    };

    /// <summary>
    /// PostgreSQL broke a deadlock or a serialization conflict by aborting this transaction: nothing of it was written,
    /// and the same transaction made again from the start can succeed (as PostgreSQL's documentation advises).
    /// </summary>
    public static bool IsDeadlockOrSerializationFailure(Exception exception)
    {
        for (Exception? e = exception; e is not null; e = e.InnerException)
        {
            if (e is PostgresException { SqlState: PostgresErrorCodes.DeadlockDetected or PostgresErrorCodes.SerializationFailure })
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// The store could not be reached, did not answer in time, or is not taking work for now: worth retrying later, not
    /// a bug. That includes PostgreSQL's class 53 (insufficient resources: disk full, out of memory, too many
    /// connections): it is the server's state, not the request's, and waiting for an operator to free space loses
    /// nothing, where failing would send every message written meanwhile to an error queue. SQLite's
    /// <c>SQLITE_FULL</c> (13: the disk or the database's size limit) is the same state on the standalone host's store.
    /// So is a database that refuses writes (25006): a managed service that turns read-only when its storage is nearly
    /// full, <c>default_transaction_read_only</c> set by an operator.
    /// </summary>
    public static bool IsUnavailable(Exception exception) => exception switch
    {
        StoreUnavailableException => true,
        PostgresException postgres => postgres.SqlState.StartsWith("08", StringComparison.Ordinal)   // connection exception
            || postgres.SqlState.StartsWith("57P", StringComparison.Ordinal)                         // shutdown, cannot connect now
            || postgres.SqlState.StartsWith("53", StringComparison.Ordinal)                          // insufficient resources
            || postgres.SqlState == PostgresErrorCodes.ReadOnlySqlTransaction,                       // read-only for now
        NpgsqlException npgsql => npgsql.IsTransient,
        SqliteException sqlite => sqlite.SqliteErrorCode is 5 or 6 or 13,                           // busy, locked, full
        TimeoutException => true,
        DbUpdateException update when update.InnerException is not null => IsUnavailable(update.InnerException),
        DbException when exception.InnerException is not null => IsUnavailable(exception.InnerException),
        InvalidOperationException when exception.InnerException is not null => IsUnavailable(exception.InnerException),
        _ => false,
    };
}
