namespace EmailPlatform.Ingress.RateLimiting;

/// <summary>A token bucket: <see cref="Capacity"/> tokens, refilled at <see cref="Rate"/> per second.</summary>
internal sealed class TokenBucket(double rate, double capacity, long nowTicks)
{
    /// <summary>A hundred years: longer than any client waits, and far inside TimeSpan's range.</summary>
    private static readonly TimeSpan LongestWait = TimeSpan.FromDays(36_500);

    private readonly Lock _lock = new();
    private double _tokens = capacity;
    private long _updatedTicks = nowTicks;

    public double Rate { get; } = rate;

    public double Capacity { get; } = capacity;

    /// <summary>Takes one token if there is one; always says what is left and when the bucket is full again.</summary>
    public (bool Taken, int Remaining, TimeSpan UntilFull, TimeSpan UntilNext) TryTake(long nowTicks)
    {
        lock (_lock)
        {
            var elapsed = TimeSpan.FromTicks(Math.Max(0, nowTicks - _updatedTicks)).TotalSeconds;
            _tokens = Math.Min(Capacity, _tokens + elapsed * Rate);
            _updatedTicks = nowTicks;

            var taken = _tokens >= 1;
            if (taken)
            {
                _tokens -= 1;
            }

            var untilNext = taken ? TimeSpan.Zero : Wait((1 - _tokens) / Rate);
            return (taken, (int)Math.Floor(_tokens), Wait((Capacity - _tokens) / Rate), untilNext);
        }
    }

    /// <summary>
    /// A wait of <paramref name="seconds"/>, at most <see cref="LongestWait"/>: a key stored with a tiny rate (before
    /// the minimum was enforced) would otherwise overflow TimeSpan and fail every request.
    /// </summary>
    private static TimeSpan Wait(double seconds) => seconds < LongestWait.TotalSeconds ? TimeSpan.FromSeconds(seconds) : LongestWait;
}
