using MassTransit;

namespace EmailPlatform.Ingress.Tests.Support;

/// <summary>
/// Holds every publish of a <typeparamref name="T"/> on one bus until <see cref="Refuse"/>, and then fails it: a publish
/// round kept waiting for as long as a test needs (a long pause, a confirm held back by a broker's memory alarm), whatever
/// its publish timeout, and then failing. Disposing refuses what is held and disconnects.
/// </summary>
internal sealed class HeldPublishes<T> : IPublishObserver, IDisposable where T : class
{
    private readonly TaskCompletionSource _entered = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _refused = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ConnectHandle _handle;

    public HeldPublishes(IBus bus) => _handle = bus.ConnectPublishObserver(this);

    /// <summary>Completes when the first <typeparamref name="T"/> is held.</summary>
    public Task Entered => _entered.Task;

    /// <summary>Lets what is held, and every publish of a <typeparamref name="T"/> after it, fail.</summary>
    public void Refuse() => _refused.TrySetResult();

    public async Task PrePublish<TMessage>(PublishContext<TMessage> context) where TMessage : class
    {
        if (context.Message is T)
        {
            _entered.TrySetResult();
            await _refused.Task;
            throw new InvalidOperationException($"The test refused this {typeof(T).Name}.");
        }
    }

    public Task PostPublish<TMessage>(PublishContext<TMessage> context) where TMessage : class => Task.CompletedTask;

    public Task PublishFault<TMessage>(PublishContext<TMessage> context, Exception exception) where TMessage : class => Task.CompletedTask;

    public void Dispose()
    {
        Refuse();
        _handle.Disconnect();
    }
}
