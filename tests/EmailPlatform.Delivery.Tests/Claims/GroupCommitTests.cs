using EmailPlatform.ServiceDefaults.Storage;

namespace EmailPlatform.Delivery.Tests.Claims;

/// <summary><see cref="GroupCommit{TRequest,TResult}"/>, the batching under the ledger's (and the outbox's) writes.</summary>
public sealed class GroupCommitTests
{
    [Fact]
    public async Task RequestsWaitingDuringACommitShareTheNextAndEachGetsItsOwnResult()
    {
        var batches = new List<int[]>();
        var firstStarted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var releaseFirst = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var commits = new GroupCommit<int, string>(async batch =>
        {
            lock (batches)
            {
                batches.Add([.. batch]);
            }

            if (batches.Count == 1)
            {
                firstStarted.SetResult();
                await releaseFirst.Task;
            }

            return batch.Select(i => $"#{i}").ToArray();
        }, maxBatch: 100, writers: 1);

        var first = commits.CommitAsync(0);
        await firstStarted.Task;
        var waiting = Enumerable.Range(1, 10).Select(commits.CommitAsync).ToList();
        releaseFirst.SetResult();

        Assert.Equal("#0", await first);
        Assert.Equal(Enumerable.Range(1, 10).Select(i => $"#{i}"), await Task.WhenAll(waiting));
        Assert.Equal([[0], Enumerable.Range(1, 10).ToArray()], batches);
    }

    [Fact]
    public async Task BadRequestFailsAloneAndTheRestOfItsBatchCommits()
    {
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var calls = 0;
        await using var commits = new GroupCommit<int, int>(async batch =>
        {
            if (Interlocked.Increment(ref calls) == 1)
            {
                started.SetResult();
                await gate.Task;
            }

            return batch.Contains(13) ? throw new InvalidOperationException("13 is refused") : batch.Select(i => i * 2).ToArray();
        }, maxBatch: 100, writers: 1);

        var blocker = commits.CommitAsync(1);
        await started.Task;
        var batch = new[] { 12, 13, 14 }.Select(commits.CommitAsync).ToList();
        gate.SetResult();

        Assert.Equal(2, await blocker);
        Assert.Equal(24, await batch[0]);
        Assert.Equal("13 is refused", (await Assert.ThrowsAsync<InvalidOperationException>(() => batch[1])).Message);
        Assert.Equal(28, await batch[2]);
    }

    [Fact]
    public async Task UnavailableStoreFailsTheWholeBatchWithoutTryingEachAlone()
    {
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var calls = 0;
        await using var commits = new GroupCommit<int, int>(async batch =>
        {
            if (Interlocked.Increment(ref calls) == 1)
            {
                started.SetResult();
                await gate.Task;
                return [.. batch];
            }

            throw new TimeoutException("the store did not answer");
        }, maxBatch: 100, writers: 1);

        var blocker = commits.CommitAsync(1);
        await started.Task;
        var batch = new[] { 2, 3, 4 }.Select(commits.CommitAsync).ToList();
        gate.SetResult();

        await blocker;
        foreach (var request in batch)
        {
            await Assert.ThrowsAsync<TimeoutException>(() => request);
        }

        Assert.Equal(2, calls);
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
}
