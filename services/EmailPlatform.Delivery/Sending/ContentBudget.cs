using EmailPlatform.Contracts;
using EmailPlatform.Delivery.Relays;
using Microsoft.Extensions.Options;

namespace EmailPlatform.Delivery.Sending;

/// <summary>
/// Bounds the stored content this worker holds in memory at once (<c>Delivery:MaxContentBytesInFlight</c>). The lanes
/// take many messages at once (four per connection of the first relay, in each of three lanes) so that the next one is
/// claimed and waiting when a connection comes free; an email's content is loaded and its message built and signed
/// before it waits for its connection. For the emails whose content is in the store, each of them megabytes, that would
/// hold dozens of them in memory while a few are sent: enough to run the worker out of memory, fault the consumes and
/// fail the recipients. So an email with stored content takes its size from this budget before its content is loaded,
/// and gives it back when its send is over (<see cref="EmailSender"/>); emails that carry their content on the bus are
/// small (<c>Ingress:InlineContentLimit</c>) and are not counted.
/// </summary>
/// <remarks>
/// Waiters are served by priority, oldest first within a priority, like the connections (<see cref="Smtp.PrioritySlots"/>),
/// and none overtakes the waiter at the head: a large email is not starved by the smaller ones of its lane, or of a lower
/// one, that would fit beside what is taken. An email larger than the whole budget is taken alone, once nothing else
/// holds any: it is sent, not failed. Only a higher lane goes ahead, as it does for a connection.
/// </remarks>
internal sealed class ContentBudget(IOptions<DeliveryOptions> options)
{
    private static readonly EmailPriority[] Order = [EmailPriority.High, EmailPriority.Normal, EmailPriority.Bulk];

    private readonly Lock _gate = new();
    private readonly Dictionary<EmailPriority, LinkedList<Waiter>> _waiters = Order.ToDictionary(p => p, _ => new LinkedList<Waiter>());
    private long _inUse;

    /// <summary>The budget in bytes.</summary>
    public long Capacity { get; } = options.Value.MaxContentBytesInFlight;

    /// <summary>Bytes taken right now (more than <see cref="Capacity"/> while an email larger than it holds it alone).</summary>
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

    /// <summary>Emails waiting for their share right now.</summary>
    public int Waiting
    {
        get
        {
            lock (_gate)
            {
                return _waiters.Values.Sum(q => q.Count);
            }
        }
    }

    /// <summary>
    /// Waits until <paramref name="bytes"/> fit (or nothing else is taken), behind every waiter of the same or a higher
    /// priority. Dispose the lease once the content and the message built from it are no longer needed.
    /// </summary>
    public Task<Lease> EnterAsync(long bytes, EmailPriority priority, CancellationToken cancellationToken)
    {
        bytes = Math.Max(0, bytes);
        var rank = priority switch
        {
            EmailPriority.High => 0,
            EmailPriority.Bulk => 2,
            _ => 1,
        };
        LinkedListNode<Waiter> node;
        lock (_gate)
        {
            // Nobody of this priority or a higher one waiting ahead, and it fits: taken at once.
            if (Order.Take(rank + 1).All(p => _waiters[p].Count == 0) && Fits(bytes))
            {
                _inUse += bytes;
                return Task.FromResult(new Lease(this, bytes));
            }

            cancellationToken.ThrowIfCancellationRequested();
            node = _waiters[Order[rank]].AddLast(new Waiter(bytes));
        }

        if (cancellationToken.CanBeCanceled)
        {
            var registration = cancellationToken.Register(() => Cancel(node, cancellationToken));
            node.Value.Admitted.Task.ContinueWith(_ => registration.Dispose(), TaskScheduler.Default);
        }

        return node.Value.Admitted.Task;
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

    /// <summary>Takes the budget for the waiters at the head, by priority, for as long as they fit. Under the lock.</summary>
    private List<Waiter> AdmitWaiters()
    {
        var admitted = new List<Waiter>();
        foreach (var priority in Order)
        {
            var queue = _waiters[priority];
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

    /// <summary>One email's share of the budget; disposing it more than once gives it back once.</summary>
    internal sealed class Lease(ContentBudget budget, long bytes) : IDisposable
    {
        private int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
            {
                budget.Release(bytes);
            }
        }
    }
}
