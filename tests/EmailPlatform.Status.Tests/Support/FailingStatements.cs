using System.Data.Common;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Npgsql;

namespace EmailPlatform.Status.Tests.Support;

/// <summary>
/// While <see cref="Armed"/>, fails every statement whose SQL holds all the given fragments without running it: as
/// Npgsql fails one that outlives its command timeout (an <see cref="NpgsqlException"/> around a
/// <see cref="TimeoutException"/>), or with <see cref="Failure"/>'s exception.
/// </summary>
internal sealed class FailingStatements(params string[] fragments) : DbCommandInterceptor
{
    private int _failed;

    public bool Armed { get; set; }

    /// <summary>The exception each failed statement throws.</summary>
    public Func<Exception> Failure { get; set; } =
        () => new NpgsqlException("Exception while reading from stream", new TimeoutException("Timeout during reading attempt"));

    /// <summary>How many statements it failed.</summary>
    public int Failed => Volatile.Read(ref _failed);

    public override ValueTask<InterceptionResult<int>> NonQueryExecutingAsync(
        DbCommand command, CommandEventData eventData, InterceptionResult<int> result, CancellationToken cancellationToken = default)
    {
        FailIfMatched(command);
        return ValueTask.FromResult(result);
    }

    public override ValueTask<InterceptionResult<DbDataReader>> ReaderExecutingAsync(
        DbCommand command, CommandEventData eventData, InterceptionResult<DbDataReader> result, CancellationToken cancellationToken = default)
    {
        FailIfMatched(command);
        return ValueTask.FromResult(result);
    }

    private void FailIfMatched(DbCommand command)
    {
        if (Armed && fragments.All(f => command.CommandText.Contains(f, StringComparison.Ordinal)))
        {
            Interlocked.Increment(ref _failed);
            throw Failure();
        }
    }
}
