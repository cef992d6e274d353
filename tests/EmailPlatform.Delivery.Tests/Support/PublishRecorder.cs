using System.Collections.Concurrent;
using MassTransit;

namespace EmailPlatform.Delivery.Tests.Support;

/// <summary>
/// Every message published on the bus, readable at any moment without waiting (the harness's lists wait for the
/// bus to go quiet, which a running retry scheduler never lets it do).
/// </summary>
internal sealed class PublishRecorder : IPublishObserver
{
    private readonly ConcurrentQueue<object> _published = new();

    public IReadOnlyList<T> Of<T>() where T : class => _published.OfType<T>().ToList();

    public Task PrePublish<T>(PublishContext<T> context) where T : class => Task.CompletedTask;

    public Task PostPublish<T>(PublishContext<T> context) where T : class
    {
        _published.Enqueue(context.Message);
        return Task.CompletedTask;
    }

    public Task PublishFault<T>(PublishContext<T> context, Exception exception) where T : class => Task.CompletedTask;
}
