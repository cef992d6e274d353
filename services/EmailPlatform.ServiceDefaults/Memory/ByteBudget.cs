using System.Diagnostics.CodeAnalysis;

namespace EmailPlatform.ServiceDefaults.Memory;

/// <summary>
/// Bounds the bytes a process holds in memory at once for one kind of work (a worker's stored email content, the
/// ingress's request bodies): each piece of work takes its size before it loads anything and gives it back when it is
/// done, and waits while the budget is full instead of running the process out of memory, which would fail all the
/// work it holds at once.
/// </summary>
/// <remarks>
/// Waiters are served by rank (0 first), oldest first within a rank, and none overtakes the waiter at the head of its
/// rank or of a better one: a large piece is not starved by the smaller ones behind it that would fit beside what is
/// taken. A piece larger than the whole budget is taken alone, once nothing else holds any: it is done, not refused.
/// Only a better rank goes ahead of a waiter.
/// </remarks>
public class ByteBudget
{
    private readonly Lock _gate = new();
    private readonly LinkedList<Waiter>[] _waiters;
    private long _inUse;

    /// <param name="capacity">The budget in bytes.</param>
    /// <param name="ranks">How many ranks of waiters there are (1: first come, first served).</param>
    public ByteBudget(long capacity, int ranks = 1)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(capacity);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(ranks);
        Capacity = capacity;
        _waiters = [.. Enumerable.Range(0, ranks).Select(_ => new LinkedList<Waiter>())];
    }

    /// <summary>The budget in bytes.</summary>
    public long Capacity { get; }

    /// <summary>Bytes taken right now (more than <see cref="Capacity"/> while a piece larger than it holds it alone).</summary>
    public long InUse
    {
        get
        {
            lock (_gate)
            {
                return _inUse;
            }
        }
    }

    /// <summary>Pieces of work waiting for their share right now.</summary>
    public int Waiting
    {
        get
        {
            lock (_gate)
            {
                return _waiters.Sum(q => q.Count);
            }
        }
    }

    /// <summary>
    /// Takes <paramref name="bytes"/> when they fit now (or nothing else is taken) and nobody of the same or a better
    /// <paramref name="rank"/> waits ahead; otherwise takes nothing and returns false.
    /// </summary>
    public bool TryEnter(long bytes, int rank, [NotNullWhen(true)] out Lease? lease)
    {
        CheckRank(rank);
        bytes = Math.Max(0, bytes);
        lock (_gate)
        {
            lease = TakeNow(bytes, rank);
            return lease is not null;
        }
    }

    /// <summary>
    /// Waits until <paramref name="bytes"/> fit (or nothing else is taken), behind every waiter of the same or a better
    /// <paramref name="rank"/>. Dispose the lease once what it was taken for is no longer in memory.
    /// </summary>
    public Task<Lease> EnterAsync(long bytes, int rank, CancellationToken cancellationToken)
    {
        CheckRank(rank);
        bytes = Math.Max(0, bytes);
        LinkedListNode<Waiter> node;
        lock (_gate)
        {
            if (TakeNow(bytes, rank) is { } lease)
            {
                return Task.FromResult(lease);
            }

            cancellationToken.ThrowIfCancellationRequested();
            node = _waiters[rank].AddLast(new Waiter(bytes));
        }

        if (cancellationToken.CanBeCanceled)
        {
            var registration = cancellationToken.Register(() => Cancel(node, cancellationToken));
            node.Value.Admitted.Task.ContinueWith(_ => registration.Dispose(), TaskScheduler.Default);
        }

        return node.Value.Admitted.Task;
    }

    /// <summary>Nobody of this rank or a better one waiting ahead, and it fits: taken at once. Under the lock.</summary>
    private Lease? TakeNow(long bytes, int rank)
    {
        for (var better = 0; better <= rank; better++)
        {
            if (_waiters[better].Count > 0)
            {
                return null;
            }
        }

        if (!Fits(bytes))
        {
            return null;
        }

        _inUse += bytes;
        return new Lease(this, bytes);
    }

    private void CheckRank(int rank)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rank);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(rank, _waiters.Length);
    }

    private void Release(long bytes)
    {
        List<Waiter> admitted;
        lock (_gate)
        {
            _inUse -= bytes;
            admitted = AdmitWaiters();
        }

        Complete(admitted);
    }

    private void Cancel(LinkedListNode<Waiter> node, CancellationToken cancellationToken)
    {
        List<Waiter> admitted;
        lock (_gate)
        {
            // Already admitted: the caller goes on with its lease and disposes it as usual.
            if (node.List is null)
            {
                return;
            }

            // The one leaving may have been the head that those behind it waited for.
            node.List.Remove(node);
            admitted = AdmitWaiters();
        }

        node.Value.Admitted.TrySetCanceled(cancellationToken);
        Complete(admitted);
    }

    /// <summary>Takes the budget for the waiters at the head, by rank, for as long as they fit. Under the lock.</summary>
    private List<Waiter> AdmitWaiters()
    {
        var admitted = new List<Waiter>();
        foreach (var queue in _waiters)
        {
            while (queue.First is { } first)
            {
                if (!Fits(first.Value.Bytes))
                {
                    return admitted;
                }

                queue.RemoveFirst();
                _inUse += first.Value.Bytes;
                admitted.Add(first.Value);
            }
        }

        return admitted;
    }

    private bool Fits(long bytes) => _inUse == 0 || _inUse + bytes <= Capacity;

    /// <summary>Outside the lock: the waiters' continuations run asynchronously anyway.</summary>
    private void Complete(List<Waiter> admitted)
    {
        foreach (var waiter in admitted)
        {
            waiter.Admitted.SetResult(new Lease(this, waiter.Bytes));
        }
    }

    private sealed record Waiter(long Bytes)
    {
        public TaskCompletionSource<Lease> Admitted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    /// <summary>One piece of work's share of the budget; disposing it more than once gives it back once.</summary>
    public sealed class Lease : IDisposable
    {
        private readonly ByteBudget _budget;
        private int _released;

        internal Lease(ByteBudget budget, long bytes)
        {
            _budget = budget;
            Bytes = bytes;
        }

        /// <summary>The bytes this lease holds.</summary>
        public long Bytes { get; }

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
            {
                _budget.Release(Bytes);
            }
        }
    }
}
