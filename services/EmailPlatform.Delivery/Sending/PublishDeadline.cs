namespace EmailPlatform.Delivery.Sending;

/// <summary>
/// A bound on waiting for the broker to take a message the worker publishes or sends (<c>Delivery:PublishTimeout</c>).
/// MassTransit waits for the publisher confirm as long as the token it is given allows, and a confirm can be lost for
/// good: RabbitMQ.Client 7.2 never completes a confirm still awaited when its channel is closed and disposed, as when
/// the broker restarts. A consume waiting on one never ends, and the lane's concurrency limit outlives the channel, so
/// each such wait takes one of the lane's permits for the life of the process: with all of them taken, the lane stops
/// for good. Bounded, the wait fails with a <see cref="TimeoutException"/> instead; what was recorded stays recorded,
/// and the redelivered command (or the scheduler's next round) publishes it again under the same event ids.
/// </summary>
internal static class PublishDeadline
{
    public static async Task RunAsync(TimeSpan timeout, CancellationToken cancellationToken, Func<CancellationToken, Task> publish)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        try
        {
            await publish(deadline.Token);
        }
        catch (OperationCanceledException ex) when (deadline.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"The broker did not take the message within Delivery:PublishTimeout ({timeout:c}).", ex);
        }
    }
}
