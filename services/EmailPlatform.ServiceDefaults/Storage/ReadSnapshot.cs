using System.Data;
using System.Data.Common;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;

namespace EmailPlatform.ServiceDefaults.Storage;

/// <summary>
/// A read-only transaction in which every query of a context sees the store as it was at the first one, for reads made
/// of several queries that must agree with each other. On PostgreSQL a <c>REPEATABLE READ</c> transaction (a snapshot,
/// no locks); on SQLite a deferred transaction, whose first read fixes the snapshot (in WAL mode) without taking the
/// write lock that SQLite's default <c>BEGIN IMMEDIATE</c> would, so it never holds up a writer. Disposing ends it.
/// </summary>
public sealed class ReadSnapshot : IAsyncDisposable
{
    private readonly DbContext _db;
    private readonly DbTransaction _transaction;

    private ReadSnapshot(DbContext db, DbTransaction transaction)
    {
        _db = db;
        _transaction = transaction;
    }

    public static async Task<ReadSnapshot> BeginAsync(DbContext db, CancellationToken cancellationToken)
    {
        await db.Database.OpenConnectionAsync(cancellationToken);
        var connection = db.Database.GetDbConnection();
        var transaction = connection is SqliteConnection sqlite
            ? sqlite.BeginTransaction(deferred: true)
            : await connection.BeginTransactionAsync(IsolationLevel.RepeatableRead, cancellationToken);
        await db.Database.UseTransactionAsync(transaction, cancellationToken);
        return new ReadSnapshot(db, transaction);
    }

    public async ValueTask DisposeAsync()
    {
        await _db.Database.UseTransactionAsync(null);
        await _transaction.DisposeAsync();
        await _db.Database.CloseConnectionAsync();
    }
}
