using System.Data.Common;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Npgsql;

namespace EmailPlatform.Status.Tests.Support;

/// <summary>
/// Fails every statement whose SQL <paramref name="matches"/>, before it reaches the store, as PostgreSQL reports a
/// statement that timed out; the others run as usual.
/// </summary>
internal sealed class FailingCommands(Func<string, bool> matches) : DbCommandInterceptor
{
    private int _failures;

    /// <summary>How many statements were failed so far.</summary>
    public int Failures => Volatile.Read(ref _failures);

    public override InterceptionResult<DbDataReader> ReaderExecuting(DbCommand command, CommandEventData eventData, InterceptionResult<DbDataReader> result) =>
        FailIfMatching(command, result);

    public override ValueTask<InterceptionResult<DbDataReader>> ReaderExecutingAsync(
        DbCommand command, CommandEventData eventData, InterceptionResult<DbDataReader> result, CancellationToken cancellationToken = default) =>
        ValueTask.FromResult(FailIfMatching(command, result));

    public override InterceptionResult<int> NonQueryExecuting(DbCommand command, CommandEventData eventData, InterceptionResult<int> result) =>
        FailIfMatching(command, result);

    public override ValueTask<InterceptionResult<int>> NonQueryExecutingAsync(
        DbCommand command, CommandEventData eventData, InterceptionResult<int> result, CancellationToken cancellationToken = default) =>
        ValueTask.FromResult(FailIfMatching(command, result));

    public override InterceptionResult<object> ScalarExecuting(DbCommand command, CommandEventData eventData, InterceptionResult<object> result) =>
        FailIfMatching(command, result);

    public override ValueTask<InterceptionResult<object>> ScalarExecutingAsync(
        DbCommand command, CommandEventData eventData, InterceptionResult<object> result, CancellationToken cancellationToken = default) =>
        ValueTask.FromResult(FailIfMatching(command, result));

    private T FailIfMatching<T>(DbCommand command, T result)
    {
        if (matches(command.CommandText))
        {
            Interlocked.Increment(ref _failures);
            throw new NpgsqlException("Exception while reading from stream (failed by the test)", new TimeoutException("Timeout during reading attempt"));
        }

        return result;
    }
}
