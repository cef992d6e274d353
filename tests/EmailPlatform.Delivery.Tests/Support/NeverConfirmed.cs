using MassTransit;

namespace EmailPlatform.Delivery.Tests.Support;

/// <summary>
/// Publishes or sends of <typeparamref name="TMessage"/> wait for a confirm that never comes, as after a broker restart,
/// until their token is cancelled, or for a minute at most: a wait the worker fails to bound then fails its test
/// instead of hanging the run. Connected to the harness's bus and disconnected when the broker is "back".
/// </summary>
internal sealed class NeverConfirmed<TMessage> : IPublishObserver, ISendObserver
    where TMessage : class
{
    private int _waited;

    /// <summary>How many publishes or sends of <typeparamref name="TMessage"/> have waited so far.</summary>
    public int Waited => Volatile.Read(ref _waited);

    public Task PrePublish<T>(PublishContext<T> context) where T : class => WaitAsync(context);

    public Task PostPublish<T>(PublishContext<T> context) where T : class => Task.CompletedTask;

    public Task PublishFault<T>(PublishContext<T> context, Exception exception) where T : class => Task.CompletedTask;

    public Task PreSend<T>(SendContext<T> context) where T : class => WaitAsync(context);

    public Task PostSend<T>(SendContext<T> context) where T : class => Task.CompletedTask;

    public Task SendFault<T>(SendContext<T> context, Exception exception) where T : class => Task.CompletedTask;

    private async Task WaitAsync<T>(SendContext<T> context) where T : class
    {
        if (context.Message is TMessage)
        {
            Interlocked.Increment(ref _waited);
            await Task.Delay(TimeSpan.FromMinutes(1), context.CancellationToken);
        }
    }
}
