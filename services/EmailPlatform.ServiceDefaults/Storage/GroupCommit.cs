using System.Threading.Channels;

namespace EmailPlatform.ServiceDefaults.Storage;

/// <summary>
/// Group commit: concurrent callers each hand in one request; a writer takes everything waiting (up to
/// <c>maxBatch</c>), commits it with one store round trip (<c>commit</c>: one statement, which PostgreSQL commits
/// atomically) and only then completes each caller's wait with its own result, so every caller still returns after
/// its own commit. Under load one round trip and one WAL flush serve a whole batch instead of one per request; alone,
/// a request costs one round trip, as before. A batch that fails for a reason other than the store being unavailable
/// (<see cref="StoreErrors.IsUnavailable"/>) is committed again request by request, so one bad request fails only
/// itself. Several writers let one batch be written while the next gathers.
/// </summary>
/// <typeparam name="TRequest">What one caller commits.</typeparam>
/// <typeparam name="TResult">What the commit tells that caller (for instance whether its row was there to update).</typeparam>
public sealed class GroupCommit<TRequest, TResult> : IAsyncDisposable
{
    private readonly Func<IReadOnlyList<TRequest>, Task<TResult[]>> _commit;
    private readonly int _maxBatch;
    private readonly Channel<Pending> _pending = Channel.CreateUnbounded<Pending>(new UnboundedChannelOptions { SingleWriter = false });
    private readonly Task[] _writers;

    /// <param name="commit">Commits a batch and returns one result per request, in the batch's order.</param>
    /// <param name="maxBatch">Requests in one commit: large enough to absorb a burst, small enough to keep one commit short.</param>
    /// <param name="writers">Commits in flight at once.</param>
    public GroupCommit(Func<IReadOnlyList<TRequest>, Task<TResult[]>> commit, int maxBatch, int writers)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBatch, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(writers, 1);
        _commit = commit;
        _maxBatch = maxBatch;
        _writers = Enumerable.Range(0, writers).Select(_ => Task.Run(WriteLoopAsync)).ToArray();
    }

    /// <summary>Completes once <paramref name="request"/> is committed; throws what the store threw, and then nothing of it is.</summary>
    public Task<TResult> CommitAsync(TRequest request)
    {
        var pending = new Pending(request);
        if (!_pending.Writer.TryWrite(pending))
        {
            throw new InvalidOperationException("Shutting down: the group commit takes no more requests.");
        }

        return pending.Committed.Task;
    }

    /// <summary>Takes no more requests, lets the writers commit what they hold, then returns.</summary>
    public async ValueTask DisposeAsync()
    {
        _pending.Writer.TryComplete();
        await Task.WhenAll(_writers);
    }

    private async Task WriteLoopAsync()
    {
        var batch = new List<Pending>(_maxBatch);
        while (await _pending.Reader.WaitToReadAsync())
        {
            while (batch.Count < _maxBatch && _pending.Reader.TryRead(out var next))
            {
                batch.Add(next);
            }

            if (batch.Count > 0)
            {
                await CommitBatchAsync(batch);
                batch.Clear();
            }
        }
    }

    private async Task CommitBatchAsync(List<Pending> batch)
    {
        try
        {
            Complete(batch, await _commit(batch.ConvertAll(p => p.Request)));
        }
        catch (Exception ex) when (batch.Count > 1 && !StoreErrors.IsUnavailable(ex))
        {
            // Not the store: something in one request. Each is committed alone, so only that one fails.
            foreach (var pending in batch)
            {
                try
                {
                    Complete([pending], await _commit([pending.Request]));
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

    private static void Complete(List<Pending> batch, TResult[] results)
    {
        if (results.Length != batch.Count)
        {
            throw new InvalidOperationException($"A group commit gave {results.Length} results for {batch.Count} requests.");
        }

        for (var i = 0; i < batch.Count; i++)
        {
            batch[i].Committed.TrySetResult(results[i]);
        }
    }

    private sealed record Pending(TRequest Request)
    {
        public TaskCompletionSource<TResult> Committed { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
