using EmailPlatform.ServiceDefaults.Storage;
using EmailPlatform.Status.Recording;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace EmailPlatform.Status.Tests.Recording;

/// <summary>
/// How the event writer sorts a failed write, with the same test of an outage as the consumers' outage wait
/// (<see cref="StoreErrors.IsUnavailable"/>): an outage faults the whole batch for the wait, a conflict is tried again,
/// anything else fails the event alone and for good.
/// </summary>
public sealed class StoreErrorClassificationTests
{
    public enum Kind
    {
        Outage,
        Conflict,
        Unrecordable,
    }

    public static TheoryData<string, Kind> Failures => new()
    {
        // SaveChanges wraps whatever the store said in a DbUpdateException: a broken connection is still an outage.
        { "connection reset during SaveChanges", Kind.Outage },
        { "command timeout", Kind.Outage },
        { "SQLite busy during SaveChanges", Kind.Outage },
        { "SQLite locked", Kind.Outage },
        { "SQLite disk full during SaveChanges", Kind.Outage },
        { "disk full during SaveChanges", Kind.Outage },
        { "out of memory", Kind.Outage },
        { "too many connections", Kind.Outage },
        { "admin shutdown", Kind.Outage },
        { "read-only database during SaveChanges", Kind.Outage },
        { "unique violation during SaveChanges", Kind.Conflict },
        { "unique violation in COPY", Kind.Conflict },
        { "SQLite unique violation", Kind.Conflict },
        { "deadlock", Kind.Conflict },
        { "concurrency check", Kind.Conflict },
        { "statement cancelled by the server", Kind.Conflict },
        { "lock not available", Kind.Conflict },
        { "I/O error", Kind.Conflict },
        { "check violation during SaveChanges", Kind.Unrecordable },
        { "SQLite foreign key violation", Kind.Unrecordable },
        { "NUL in a text", Kind.Unrecordable },
        { "malformed message", Kind.Unrecordable },
    };

    [Theory]
    [MemberData(nameof(Failures))]
    public void EachFailureIsAnOutageAConflictOrAnEventThatCannotBeRecorded(string failure, Kind kind)
    {
        var exception = Make(failure);

        var sorted = StoreErrors.IsUnavailable(exception) ? Kind.Outage
            : StatusEventWriter.MayPassAnotherTime(exception) ? Kind.Conflict
            : Kind.Unrecordable;

        Assert.Equal(kind, sorted);
    }

    private static Exception Make(string failure) => failure switch
    {
        "connection reset during SaveChanges" => Saving(new NpgsqlException("Exception while reading from stream", new IOException("Connection reset by peer"))),
        "command timeout" => new NpgsqlException("Exception while reading from stream", new TimeoutException("Timeout during reading attempt")),
        "SQLite busy during SaveChanges" => Saving(new SqliteException("SQLite Error 5: 'database is locked'.", 5)),
        "SQLite locked" => new SqliteException("SQLite Error 6: 'database table is locked'.", 6),
        "SQLite disk full during SaveChanges" => Saving(new SqliteException("SQLite Error 13: 'database or disk is full'.", 13)),
        "disk full during SaveChanges" => Saving(Postgres(PostgresErrorCodes.DiskFull)),
        "out of memory" => Postgres(PostgresErrorCodes.OutOfMemory),
        "too many connections" => Postgres(PostgresErrorCodes.TooManyConnections),
        "admin shutdown" => Postgres(PostgresErrorCodes.AdminShutdown),
        "read-only database during SaveChanges" => Saving(Postgres(PostgresErrorCodes.ReadOnlySqlTransaction)),
        "unique violation during SaveChanges" => Saving(Postgres(PostgresErrorCodes.UniqueViolation)),
        "unique violation in COPY" => Postgres(PostgresErrorCodes.UniqueViolation),
        "SQLite unique violation" => Saving(new SqliteException("SQLite Error 19: 'UNIQUE constraint failed'.", 19, 2067)),
        "deadlock" => Postgres(PostgresErrorCodes.DeadlockDetected),
        "concurrency check" => new DbUpdateConcurrencyException("The row was changed since it was read."),
        "statement cancelled by the server" => Saving(Postgres(PostgresErrorCodes.QueryCanceled)),
        "lock not available" => Postgres(PostgresErrorCodes.LockNotAvailable),
        "I/O error" => Postgres(PostgresErrorCodes.IoError),
        "check violation during SaveChanges" => Saving(Postgres(PostgresErrorCodes.CheckViolation)),
        "SQLite foreign key violation" => Saving(new SqliteException("SQLite Error 19: 'FOREIGN KEY constraint failed'.", 19, 787)),
        "NUL in a text" => Postgres(PostgresErrorCodes.CharacterNotInRepertoire),
        "malformed message" => new ArgumentNullException("collection"),
        _ => throw new ArgumentOutOfRangeException(nameof(failure), failure, null),
    };

    private static DbUpdateException Saving(Exception inner) => new("An error occurred while saving the entity changes.", inner);

    private static PostgresException Postgres(string sqlState) => new("failed by the test", "ERROR", "ERROR", sqlState);
}
