namespace EmailPlatform.ServiceDefaults.Hosting;

/// <summary>The loop of a background job that runs at start and then at an interval until the host stops.</summary>
public static class PeriodicWork
{
    /// <summary>
    /// Runs <paramref name="work"/> now and then each <paramref name="interval"/> after the last run ended, until
    /// <paramref name="stoppingToken"/> is cancelled. A run that fails is handed to <paramref name="failed"/> and the loop
    /// goes on: the next run starts again from what is stored. The interval is read before each wait, so a change to the
    /// options applies at the next one.
    /// </summary>
    public static async Task RunAsync(
        Func<CancellationToken, Task> work, Func<TimeSpan> interval, Action<Exception> failed, TimeProvider clock, CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await work(stoppingToken);
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                failed(ex);
            }

            try
            {
                await Task.Delay(interval(), clock, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }
}
