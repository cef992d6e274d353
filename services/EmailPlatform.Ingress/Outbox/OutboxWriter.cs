using System.Threading.Channels;
using EmailPlatform.ServiceDefaults.Storage;
using Npgsql;
using NpgsqlTypes;

namespace EmailPlatform.Ingress.Outbox;

/// <summary>
/// Group commit of accepted emails on PostgreSQL. Concurrent accepts hand their outbox rows here; a writer takes
/// everything waiting (up to <see cref="MaxRequestsPerCommit"/> requests), inserts it with one statement, which
/// PostgreSQL commits atomically, and only then completes each request's wait, so every 202 still follows its own
/// commit. Under load one round trip and one WAL flush serve a whole batch instead of one per request; alone, a request
/// costs one round trip, as before. A batch that fails for a reason other than the store being unavailable is written
/// again request by request, so one bad request fails only itself. Requests with an <c>Idempotency-Key</c> do not
/// come here: they commit on their own, where the unique key on the idempotency record can refuse just them.
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

    private readonly Channel<Pending> _pending = Channel.CreateUnbounded<Pending>(new UnboundedChannelOptions { SingleWriter = false });
    private readonly NpgsqlDataSource _dataSource;
    private readonly Task[] _writers;

    public OutboxWriter(string connectionString)
    {
        _dataSource = NpgsqlDataSource.Create(connectionString);
        _writers = Enumerable.Range(0, Writers).Select(_ => Task.Run(WriteLoopAsync)).ToArray();
    }

    /// <summary>Completes once <paramref name="rows"/> are committed; throws what the store threw, and then nothing of them is.</summary>
    public Task WriteAsync(IReadOnlyList<OutboxMessage> rows)
    {
        var pending = new Pending(rows);
        if (!_pending.Writer.TryWrite(pending))
        {
            throw new InvalidOperationException("The ingress is shutting down; the outbox writer takes no more accepts.");
        }

        return pending.Committed.Task;
    }

    private async Task WriteLoopAsync()
    {
        var batch = new List<Pending>(MaxRequestsPerCommit);
        while (await _pending.Reader.WaitToReadAsync())
        {
            while (batch.Count < MaxRequestsPerCommit && _pending.Reader.TryRead(out var next))
            {
                batch.Add(next);
            }

            if (batch.Count > 0)
            {
                await CommitAsync(batch);
                batch.Clear();
            }
        }
    }

    private async Task CommitAsync(List<Pending> batch)
    {
        try
        {
            await InsertAsync(batch);
            batch.ForEach(p => p.Committed.TrySetResult());
        }
        catch (Exception ex) when (batch.Count > 1 && !StoreErrors.IsUnavailable(ex))
        {
            // Not the store: something in one request. Each is written alone, so only that one fails.
            foreach (var pending in batch)
            {
                try
                {
                    await InsertAsync([pending]);
                    pending.Committed.TrySetResult();
                }
                catch (Exception single)
                {
                    pending.Committed.TrySetException(single);
                }
            }
        }
        catch (Exception ex)
        {
            batch.ForEach(p => p.Committed.TrySetException(ex));
        }
    }

    private async Task InsertAsync(IReadOnlyList<Pending> batch)
    {
        var count = batch.Sum(p => p.Rows.Count);
        var ids = new Guid[count];
        var emailIds = new Guid[count];
        var types = new string[count];
        var payloads = new string[count];
        var createdAt = new DateTime[count];
        var availableAt = new DateTime[count];
        var traceParents = new string?[count];
        var i = 0;
        foreach (var pending in batch)
        {
            foreach (var row in pending.Rows)
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
    }

    /// <summary>Stops taking accepts, lets the writers commit what they hold, then closes the connections.</summary>
    public async ValueTask DisposeAsync()
    {
        _pending.Writer.TryComplete();
        await Task.WhenAll(_writers);
        await _dataSource.DisposeAsync();
    }

    private sealed record Pending(IReadOnlyList<OutboxMessage> Rows)
    {
        public TaskCompletionSource Committed { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
