namespace EmailPlatform.Delivery.Tests.Support;

/// <summary>
/// The system clock, moved forward when a test says so: registered as a worker's <see cref="TimeProvider"/>, it lets a
/// deadline far enough ahead for any attempt on a loaded machine (an email's <c>ExpiresAt</c>, <c>Delivery:MaxRetryAge</c>)
/// pass at the moment the test chooses, once the attempts it is about have been recorded. Timers and delays still run
/// on the system's time: what sleeps until a due time (the retry scheduler) has to be woken.
/// </summary>
internal sealed class AdvancingClock : TimeProvider
{
    private long _aheadTicks;

    public override DateTimeOffset GetUtcNow() => base.GetUtcNow() + TimeSpan.FromTicks(Interlocked.Read(ref _aheadTicks));

    public void Advance(TimeSpan by) => Interlocked.Add(ref _aheadTicks, by.Ticks);
}
