using EmailPlatform.ServiceDefaults.Storage;

namespace EmailPlatform.Delivery.Tests.Claims;

/// <summary><see cref="GroupCommit{TRequest,TResult}"/>, the batching under the ledger's (and the outbox's) writes.</summary>
public sealed class GroupCommitTests
{
    [Fact]
    public async Task RequestsWaitingDuringACommitShareTheNextAndEachGetsItsOwnResult()
    {
        var held = new HeldFirstCommit<string>(batch => batch.Select(i => $"#{i}").ToArray());
        await using var commits = new GroupCommit<int, string>(held.CommitAsync, maxBatch: 100, writers: 1);

        var first = commits.CommitAsync(0);
        await held.Started;
        var waiting = Enumerable.Range(1, 10).Select(commits.CommitAsync).ToList();
        held.Release();

        Assert.Equal("#0", await first);
        Assert.Equal(Enumerable.Range(1, 10).Select(i => $"#{i}"), await Task.WhenAll(waiting));
        Assert.Equal([[0], Enumerable.Range(1, 10).ToArray()], held.Batches);
    }

    [Fact]
    public async Task BadRequestFailsAloneAndTheRestOfItsBatchCommits()
    {
        var held = new HeldFirstCommit<int>(batch =>
            batch.Contains(13) ? throw new InvalidOperationException("13 is refused") : batch.Select(i => i * 2).ToArray());
        await using var commits = new GroupCommit<int, int>(held.CommitAsync, maxBatch: 100, writers: 1);

        var blocker = commits.CommitAsync(1);
        await held.Started;
        var batch = new[] { 12, 13, 14 }.Select(commits.CommitAsync).ToList();
        held.Release();

        Assert.Equal(2, await blocker);
        Assert.Equal(24, await batch[0]);
        Assert.Equal("13 is refused", (await Assert.ThrowsAsync<InvalidOperationException>(() => batch[1])).Message);
        Assert.Equal(28, await batch[2]);
        Assert.Equal([[1], [12, 13, 14], [12], [13], [14]], held.Batches);
    }

    [Fact]
    public async Task UnavailableStoreFailsTheWholeBatchWithoutTryingEachAlone()
    {
        var held = new HeldFirstCommit<int>(batch => batch.Contains(1) ? [.. batch] : throw new TimeoutException("the store did not answer"));
        await using var commits = new GroupCommit<int, int>(held.CommitAsync, maxBatch: 100, writers: 1);

        var blocker = commits.CommitAsync(1);
        await held.Started;
        var batch = new[] { 2, 3, 4 }.Select(commits.CommitAsync).ToList();
        held.Release();

        await blocker;
        foreach (var request in batch)
        {
            await Assert.ThrowsAsync<TimeoutException>(() => request);
        }

        Assert.Equal([[1], [2, 3, 4]], held.Batches);
    }

    [Fact]
    public async Task DisposingCommitsWhatIsWaitingAndThenRefusesMore()
    {
        var commits = new GroupCommit<int, int>(batch => Task.FromResult(batch.ToArray()), maxBatch: 4, writers: 2);
        var waiting = Enumerable.Range(0, 20).Select(commits.CommitAsync).ToList();

        await commits.DisposeAsync();

        Assert.Equal(Enumerable.Range(0, 20), await Task.WhenAll(waiting));
        await Assert.ThrowsAsync<InvalidOperationException>(() => commits.CommitAsync(21));
    }

    /// <summary>A commit that notes every batch and holds the first until released: what arrives meanwhile gathers.</summary>
    private sealed class HeldFirstCommit<TResult>(Func<IReadOnlyList<int>, TResult[]> results)
    {
        private readonly TaskCompletionSource _started = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly List<int[]> _batches = [];

        public Task Started => _started.Task;

        public IReadOnlyList<int[]> Batches
        {
            get
            {
                lock (_batches)
                {
                    return [.. _batches];
                }
            }
        }

        public void Release() => _release.SetResult();

        public async Task<TResult[]> CommitAsync(IReadOnlyList<int> batch)
        {
            bool first;
            lock (_batches)
            {
                _batches.Add([.. batch]);
                first = _batches.Count == 1;
            }

            if (first)
            {
                _started.SetResult();
                await _release.Task;
            }

            return results(batch);
        }
    }
}
