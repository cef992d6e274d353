using System.Data.Common;
using EmailPlatform.Status.Retention;
using EmailPlatform.Status.Tests.Support;
using EmailPlatform.Testing;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.Extensions.Options;
using Npgsql;

namespace EmailPlatform.Status.Tests.Retention;

/// <summary>
/// The retention purge runs every hour over tables that grow for ever (emails are kept after their bodies go), so its
/// selections must come from indexes that hold only what is left to purge, oldest first: not a scan of every email or
/// webhook delivery ever purged. Each selection the purger runs is explained by the store itself.
/// </summary>
public sealed class PurgePlanTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task PurgeSelectsFromIndexesThatHoldOnlyWhatIsLeftToPurge(bool sqlite)
    {
        await using var store = sqlite ? await StatusStore.SqliteAsync() : await StatusStore.PostgresAsync();
        await store.RecordAsync(TestEvents.Accepted(Guid.NewGuid(), to: ["alice@example.com"]));
        await store.RecordAsync(TestEvents.Accepted(Guid.NewGuid(), to: ["alice@example.com"], scheduledAt: DateTimeOffset.UtcNow.AddDays(2)));

        var plans = new PlanRecorder();
        await using (var db = store.NewContext(plans))
        {
            var purger = new RetentionPurger(db, Options.Create(new RetentionOptions()), new ManualClock(DateTimeOffset.UtcNow.AddDays(100)));
            var result = await purger.PurgeAsync(CancellationToken.None);
            Assert.Equal((2, 2), (result.Bodies, result.Events));
        }

        // Emails sent at once by acceptance, scheduled ones by when they are due: each from a partial index of its own.
        Assert.Contains("ix_emails_with_content_accepted_at_id", plans.Of("scheduled_at IS NULL"));
        Assert.Contains("ix_emails_scheduled_with_content", plans.Of("scheduled_at IS NOT NULL"));
        Assert.Contains("ix_events_occurred_at", plans.Of("occurred_at"));
        Assert.Contains("ix_webhook_deliveries_created_at", plans.Of("webhook_deliveries"));
    }

    /// <summary>Explains each SELECT on its own connection just before it runs (PostgreSQL: with sequential scans off, as on a large table).</summary>
    private sealed class PlanRecorder : DbCommandInterceptor
    {
        private readonly List<(string Sql, string Plan)> _plans = [];

        public string Of(string sqlPart) =>
            _plans.Where(p => p.Sql.Contains(sqlPart, StringComparison.Ordinal)).Select(p => p.Plan).SingleOrDefault()
            ?? throw new InvalidOperationException($"No statement with '{sqlPart}' ran; ran: {string.Join(" | ", _plans.Select(p => p.Sql))}");

        public override async ValueTask<InterceptionResult<DbDataReader>> ReaderExecutingAsync(
            DbCommand command, CommandEventData eventData, InterceptionResult<DbDataReader> result, CancellationToken cancellationToken = default)
        {
            if (command.CommandText.TrimStart().StartsWith("SELECT", StringComparison.OrdinalIgnoreCase))
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
}
