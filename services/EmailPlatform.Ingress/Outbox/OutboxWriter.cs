using EmailPlatform.ServiceDefaults.Storage;
using Npgsql;
using NpgsqlTypes;

namespace EmailPlatform.Ingress.Outbox;

/// <summary>
/// Group commit of accepted emails on PostgreSQL (<see cref="GroupCommit{TRequest,TResult}"/>). Concurrent accepts hand
/// their outbox rows here; a writer inserts everything waiting with one statement, which PostgreSQL commits atomically,
/// and only then completes each request's wait, so every 202 still follows its own commit. A batch that fails for a
/// reason other than the store being unavailable is written again request by request, so one bad request fails only
/// itself. Requests with an <c>Idempotency-Key</c> do not come here: they commit on their own, where the unique key on
/// the idempotency record can refuse just them.
/// </summary>
internal sealed class OutboxWriter : IAsyncDisposable
{
    /// <summary>Requests in one statement: large enough to absorb a burst, small enough to keep one commit short.</summary>
    internal const int MaxRequestsPerCommit = 256;

    /// <summary>Two writers: one batch is written while the next gathers and is encoded.</summary>
    private const int Writers = 2;

    private const string Insert = """
        INSERT INTO outbox_messages (id, email_id, message_type, payload, created_at, available_at, trace_parent)
        SELECT * FROM unnest($1, $2, $3, $4, $5, $6, $7)
        """;

    private readonly NpgsqlDataSource _dataSource;
    private readonly GroupCommit<IReadOnlyList<OutboxMessage>, bool> _commits;

    public OutboxWriter(string connectionString)
    {
        _dataSource = NpgsqlDataSource.Create(connectionString);
        _commits = new GroupCommit<IReadOnlyList<OutboxMessage>, bool>(InsertAsync, MaxRequestsPerCommit, Writers);
    }

    /// <summary>Completes once <paramref name="rows"/> are committed; throws what the store threw, and then nothing of them is.</summary>
    public Task WriteAsync(IReadOnlyList<OutboxMessage> rows) => _commits.CommitAsync(rows);

    private async Task<bool[]> InsertAsync(IReadOnlyList<IReadOnlyList<OutboxMessage>> batch)
    {
        var count = batch.Sum(rows => rows.Count);
        var ids = new Guid[count];
        var emailIds = new Guid[count];
        var types = new string[count];
        var payloads = new string[count];
        var createdAt = new DateTime[count];
        var availableAt = new DateTime[count];
        var traceParents = new string?[count];
        var i = 0;
        foreach (var rows in batch)
        {
            foreach (var row in rows)
            {
                (ids[i], emailIds[i], types[i], payloads[i]) = (row.Id, row.EmailId, row.MessageType, row.Payload);
                (createdAt[i], availableAt[i], traceParents[i]) = (row.CreatedAt, row.AvailableAt, row.TraceParent);
                i++;
            }
        }

        await using var command = _dataSource.CreateCommand(Insert);
        command.Parameters.Add(new NpgsqlParameter<Guid[]> { TypedValue = ids, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Uuid });
        command.Parameters.Add(new NpgsqlParameter<Guid[]> { TypedValue = emailIds, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Uuid });
        command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = types, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Varchar });
        command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = payloads, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        command.Parameters.Add(new NpgsqlParameter<DateTime[]> { TypedValue = createdAt, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.TimestampTz });
        command.Parameters.Add(new NpgsqlParameter<DateTime[]> { TypedValue = availableAt, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.TimestampTz });
        command.Parameters.Add(new NpgsqlParameter<string?[]> { TypedValue = traceParents, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        await command.ExecuteNonQueryAsync();
        return new bool[batch.Count];
    }

    /// <summary>Stops taking accepts, lets the writers commit what they hold, then closes the connections.</summary>
    public async ValueTask DisposeAsync()
    {
        await _commits.DisposeAsync();
        await _dataSource.DisposeAsync();
    }
}
