using EmailPlatform.Ingress.Outbox;

namespace EmailPlatform.Ingress.Tests.Outbox;

/// <summary>The loop both outbox publishers run (<c>WakeSignal.RunAsync</c>): back-off after failures, waking on a signal.</summary>
public sealed class WakeSignalTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task FailedRoundsBackOffDoublingAndARoundThatWorksStartsTheBackOffAgain()
    {
        var signal = new OutboxSignal();
        var failures = new List<TimeSpan>();
        var rounds = 0;
        using var stop = new CancellationTokenSource();

        await signal.RunAsync(
            _ =>
            {
                rounds++;
                switch (rounds)
                {
                    case <= 2 or 4:
                        throw new InvalidOperationException("the broker is away");
                    case 3:
                        // More is due: the next round runs at once, with no wait for a signal.
                        return Task.FromResult(true);
                    default:
                        stop.Cancel();
                        return Task.FromResult(false);
                }
            },
            () => TimeSpan.FromMinutes(5),
            (_, backoff) => failures.Add(backoff),
            TimeProvider.System,
            stop.Token).WaitAsync(Bound);

        Assert.Equal(5, rounds);
        Assert.Equal([TimeSpan.FromMilliseconds(250), TimeSpan.FromMilliseconds(500), TimeSpan.FromMilliseconds(250)], failures);
    }

    [Fact]
    public async Task ASignalRunsTheNextRoundWithoutWaitingForThePollInterval()
    {
        var signal = new OutboxSignal();
        var second = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var rounds = 0;
        using var stop = new CancellationTokenSource();

        var loop = signal.RunAsync(
            _ =>
            {
                if (++rounds == 2)
                {
                    second.TrySetResult();
                }

                return Task.FromResult(false);
            },
            () => TimeSpan.FromMinutes(5),
            (ex, _) => Assert.Fail(ex.ToString()),
            TimeProvider.System,
            stop.Token);

        signal.Notify();
        await second.Task.WaitAsync(Bound);
        await stop.CancelAsync();
        await loop.WaitAsync(Bound);
        Assert.Equal(2, rounds);
    }
}
