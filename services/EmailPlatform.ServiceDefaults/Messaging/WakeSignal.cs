using System.Threading.Channels;

namespace EmailPlatform.ServiceDefaults.Messaging;

/// <summary>
/// Wakes a background loop (an outbox's publisher) as soon as there is work for it, so its poll interval is only a
/// fallback. Signals given while the loop is busy fold into one. Each loop derives a type of its own, so that hosts
/// composing several services (the standalone host) give every loop its own signal.
/// </summary>
public abstract class WakeSignal
{
    private readonly Channel<bool> _channel = Channel.CreateBounded<bool>(
        new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });

    public void Notify() => _channel.Writer.TryWrite(true);

    /// <summary>Returns at the next signal, or after <paramref name="timeout"/> without one.</summary>
    public async Task WaitAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var timer = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timer.CancelAfter(timeout);
        try
        {
            await _channel.Reader.ReadAsync(timer.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            // The poll interval elapsed without a signal.
        }
    }
}
