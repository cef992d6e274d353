using System.Threading.Channels;

namespace EmailPlatform.ServiceDefaults.Messaging;

/// <summary>
/// Wakes a background loop (an outbox's publisher) as soon as there is work for it, so its poll interval is only a
/// fallback. Signals given while the loop is busy fold into one. Each loop derives a type of its own, so that hosts
/// composing several services (the standalone host) give every loop its own signal.
/// </summary>
public abstract class WakeSignal
{
    private static readonly TimeSpan FirstBackoff = TimeSpan.FromMilliseconds(250);
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(30);

    private readonly Channel<bool> _channel = Channel.CreateBounded<bool>(
        new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });

    /// <summary>
    /// Runs <paramref name="round"/> until <paramref name="stoppingToken"/> stops it: again at once while a round says
    /// more is due, otherwise at the next signal or after <paramref name="pollInterval"/>. A failed round (the broker
    /// or the store away) is reported to <paramref name="failed"/> with the back-off before the next, which doubles
    /// from 250 ms to 30 s and starts again after a round that worked.
    /// </summary>
    public async Task RunAsync(
        Func<CancellationToken, Task<bool>> round, Func<TimeSpan> pollInterval, Action<Exception, TimeSpan> failed, TimeProvider clock,
        CancellationToken stoppingToken)
    {
        var backoff = TimeSpan.Zero;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var more = await round(stoppingToken);
                backoff = TimeSpan.Zero;
                if (!more)
                {
                    await WaitAsync(pollInterval(), stoppingToken);
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                backoff = backoff == TimeSpan.Zero ? FirstBackoff : TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, MaxBackoff.Ticks));
                failed(ex, backoff);
                await Task.Delay(backoff, clock, stoppingToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
        }
    }

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
