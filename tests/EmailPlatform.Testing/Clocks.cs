namespace EmailPlatform.Testing;

/// <summary>
/// A clock that stands still unless the test moves it: for what reads the time and nothing else (rate limits, retention
/// cut-offs, suppression expiries). Timers and delays still run on the system's time.
/// </summary>
public sealed class ManualClock(DateTimeOffset now) : TimeProvider
{
    private long _utcTicks = now.UtcTicks;

    public override DateTimeOffset GetUtcNow() => new(Interlocked.Read(ref _utcTicks), TimeSpan.Zero);

    public void Advance(TimeSpan by) => Interlocked.Add(ref _utcTicks, by.Ticks);
}

/// <summary>
/// The system clock, moved forward when a test says so: registered as a worker's <see cref="TimeProvider"/>, it lets a
/// deadline far enough ahead for any attempt on a loaded machine (an email's <c>ExpiresAt</c>, <c>Delivery:MaxRetryAge</c>)
/// pass at the moment the test chooses, once the attempts it is about have been recorded. Timers and delays still run
/// on the system's time: what sleeps until a due time (the retry scheduler) has to be woken.
/// </summary>
public sealed class AdvancingClock : TimeProvider
{
    private long _aheadTicks;

    public override DateTimeOffset GetUtcNow() => base.GetUtcNow() + TimeSpan.FromTicks(Interlocked.Read(ref _aheadTicks));

    public void Advance(TimeSpan by) => Interlocked.Add(ref _aheadTicks, by.Ticks);
}
