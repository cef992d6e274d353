using System.Data.Common;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Npgsql;

namespace EmailPlatform.Status.Tests.Support;

/// <summary>
/// Explains each SELECT on its own connection just before it runs (PostgreSQL: with sequential scans off, as on a large
/// table); with <paramref name="writes"/>, each UPDATE and DELETE too (explained, not run, by the explain).
/// </summary>
internal sealed class PlanRecorder(bool writes = false) : DbCommandInterceptor
{
    private readonly List<(string Sql, string Plan)> _plans = [];

    /// <summary>The plans of every statement that ran with <paramref name="sqlPart"/> in its SQL (a statement run in batches).</summary>
    public IReadOnlyList<string> AllOf(string sqlPart) =>
        [.. _plans.Where(p => p.Sql.Contains(sqlPart, StringComparison.Ordinal)).Select(p => p.Plan)];

    public string Of(string sqlPart) =>
        _plans.Where(p => p.Sql.Contains(sqlPart, StringComparison.Ordinal)).Select(p => p.Plan).SingleOrDefault()
        ?? throw new InvalidOperationException($"No statement with '{sqlPart}' ran; ran: {string.Join(" | ", _plans.Select(p => p.Sql))}");

    public override async ValueTask<InterceptionResult<DbDataReader>> ReaderExecutingAsync(
        DbCommand command, CommandEventData eventData, InterceptionResult<DbDataReader> result, CancellationToken cancellationToken = default)
    {
        if (command.CommandText.TrimStart().StartsWith("SELECT", StringComparison.OrdinalIgnoreCase) || IsWrite(command.CommandText))
        {
            _plans.Add((command.CommandText, await ExplainAsync(command, cancellationToken)));
        }

        return result;
    }

    /// <summary>With <c>writes</c>, an UPDATE or DELETE, run as a command or as a query (<c>RETURNING</c>).</summary>
    private bool IsWrite(string sql) =>
        writes && (sql.TrimStart().StartsWith("UPDATE", StringComparison.OrdinalIgnoreCase) || sql.TrimStart().StartsWith("DELETE", StringComparison.OrdinalIgnoreCase));

    public override async ValueTask<InterceptionResult<int>> NonQueryExecutingAsync(
        DbCommand command, CommandEventData eventData, InterceptionResult<int> result, CancellationToken cancellationToken = default)
    {
        if (IsWrite(command.CommandText))
        {
            _plans.Add((command.CommandText, await ExplainAsync(command, cancellationToken)));
        }

        return result;
    }

    private static async Task<string> ExplainAsync(DbCommand command, CancellationToken cancellationToken)
    {
        await using var explain = command.Connection!.CreateCommand();
        explain.Transaction = command.Transaction;
        if (command is NpgsqlCommand)
        {
            explain.CommandText = "SET enable_seqscan = off";
            await explain.ExecuteNonQueryAsync(cancellationToken);
        }

        explain.CommandText = (command is SqliteCommand ? "EXPLAIN QUERY PLAN " : "EXPLAIN ") + command.CommandText;
        foreach (DbParameter parameter in command.Parameters)
        {
            explain.Parameters.Add(parameter switch
            {
                NpgsqlParameter npgsql => npgsql.Clone(),
                SqliteParameter sqlite => new SqliteParameter(sqlite.ParameterName, sqlite.Value),
                _ => throw new NotSupportedException(parameter.GetType().Name),
            });
        }

        var lines = new List<string>();
        await using var reader = await explain.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            lines.Add(reader.GetValue(reader.FieldCount - 1).ToString()!);
        }

        return string.Join('\n', lines);
    }
}
