using System.Collections.Concurrent;
using System.Data.Common;
using Microsoft.EntityFrameworkCore.Diagnostics;

namespace EmailPlatform.Status.Tests.Support;

/// <summary>
/// Keeps every statement run without a result set (an <c>UPDATE</c> or <c>DELETE</c>, by <c>ExecuteUpdate</c>,
/// <c>ExecuteDelete</c> or SQL) with the rows it changed: how many statements some work took, and how large each was.
/// </summary>
internal sealed class StatementLog : DbCommandInterceptor
{
    private readonly ConcurrentQueue<(string Sql, int Rows)> _statements = new();

    /// <summary>
    /// The rows changed by each statement whose SQL starts with <paramref name="start"/> (white space and the quotes
    /// around names aside, which SQLite has and PostgreSQL does not), in the order they ran.
    /// </summary>
    public IReadOnlyList<int> RowsOf(string start) =>
        [.. _statements.Where(s => s.Sql.Replace("\"", "", StringComparison.Ordinal).TrimStart().StartsWith(start, StringComparison.Ordinal)).Select(s => s.Rows)];

    public void Clear() => _statements.Clear();

    public override ValueTask<int> NonQueryExecutedAsync(
        DbCommand command, CommandExecutedEventData eventData, int result, CancellationToken cancellationToken = default)
    {
        _statements.Enqueue((command.CommandText, result));
        return ValueTask.FromResult(result);
    }
}
