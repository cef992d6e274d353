using EmailPlatform.Contracts;

namespace EmailPlatform.Delivery.Smtp;

/// <summary>
/// A counting semaphore whose waiters are served by priority: a freed slot goes to the oldest waiting
/// <see cref="EmailPriority.High"/> caller, then <see cref="EmailPriority.Normal"/>, then <see cref="EmailPriority.Bulk"/>.
/// This is what keeps a password reset from queuing behind a bulk backlog for a relay's connections: with every
/// connection busy, it waits for the next one to come free, not for every bulk message that asked before it.
/// </summary>
internal sealed class PrioritySlots(int count)
{
    private static readonly EmailPriority[] Order = [EmailPriority.High, EmailPriority.Normal, EmailPriority.Bulk];

    private readonly Lock _gate = new();
    private readonly Dictionary<EmailPriority, LinkedList<TaskCompletionSource>> _waiters = Order.ToDictionary(p => p, _ => new LinkedList<TaskCompletionSource>());
    private int _available = count;

    public int Capacity { get; } = count;

    /// <summary>Slots taken right now.</summary>
    public int InUse
    {
        get
        {
            lock (_gate)
            {
                return Capacity - _available;
            }
        }
    }

    /// <summary>Callers waiting for a slot right now.</summary>
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

    public Task WaitAsync(EmailPriority priority, CancellationToken cancellationToken)
    {
        LinkedListNode<TaskCompletionSource> node;
        lock (_gate)
        {
            if (_available > 0)
            {
                _available--;
                return Task.CompletedTask;
            }

            cancellationToken.ThrowIfCancellationRequested();
            node = Queue(priority).AddLast(new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        }

        if (cancellationToken.CanBeCanceled)
        {
            var registration = cancellationToken.Register(() => Cancel(node, cancellationToken));
            node.Value.Task.ContinueWith(_ => registration.Dispose(), TaskScheduler.Default);
        }

        return node.Value.Task;
    }

    /// <summary>Frees a slot: hands it straight to the first waiter by priority, or makes it available.</summary>
    public void Release()
    {
        TaskCompletionSource? next = null;
        lock (_gate)
        {
            foreach (var priority in Order)
            {
                var queue = _waiters[priority];
                if (queue.First is { } first)
                {
                    queue.RemoveFirst();
                    next = first.Value;
                    break;
                }
            }

            if (next is null)
            {
                _available++;
            }
        }

        // Outside the lock: the waiter's continuation runs asynchronously anyway.
        next?.SetResult();
    }

    private void Cancel(LinkedListNode<TaskCompletionSource> node, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            // Still waiting: drop out. Already handed a slot: the caller goes on with it and releases it as usual.
            if (node.List is null)
            {
                return;
            }

            node.List.Remove(node);
        }

        node.Value.TrySetCanceled(cancellationToken);
    }

    private LinkedList<TaskCompletionSource> Queue(EmailPriority priority) =>
        _waiters.TryGetValue(priority, out var queue) ? queue : _waiters[EmailPriority.Normal];
}
