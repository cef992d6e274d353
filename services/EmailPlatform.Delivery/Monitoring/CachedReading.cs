namespace EmailPlatform.Delivery.Monitoring;

/// <summary>
/// A value that is expensive to read (a store count, a broker round trip), read at most once per
/// <paramref name="maxAge"/> and in the background: an observable gauge's callback is synchronous and runs on
/// every scrape, so it gets the last value at once and, when that is stale, starts one refresh for the next scrape.
/// Until the first read succeeds there is no value, and the gauge reports nothing rather than a made-up zero.
/// </summary>
internal sealed class CachedReading<T>(Func<CancellationToken, Task<T>> read, TimeSpan maxAge, TimeProvider time, Action<Exception> onError)
{
    private readonly Lock _gate = new();
    private (T Value, long At)? _last;
    private Task? _refresh;

    public bool TryGet(out T value)
    {
        (T Value, long At)? last;
        lock (_gate)
        {
            last = _last;
            if ((last is null || time.GetElapsedTime(last.Value.At) >= maxAge) && _refresh is null)
            {
                _refresh = RefreshAsync();
            }
        }

        value = last is { } l ? l.Value : default!;
        return last is not null;
    }

    /// <summary>Reads now (used once at start so the first scrape already has a value).</summary>
    public Task RefreshAsync() => Task.Run(async () =>
    {
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            var value = await read(timeout.Token);
            lock (_gate)
            {
                _last = (value, time.GetTimestamp());
            }
        }
        catch (Exception ex)
        {
            onError(ex);
        }
        finally
        {
            lock (_gate)
            {
                _refresh = null;
            }
        }
    });
}
