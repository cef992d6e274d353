using System.Diagnostics;

namespace EmailPlatform.Testing;

/// <summary>
/// Records the spans a test looks at as they end: every span of the named sources is sampled, whatever the process's
/// other listeners decide, and kept when <c>keep</c> says so. The listener hears the spans of every test running at the
/// same time, which is why a test keeps those of its own email or subscription.
/// </summary>
public sealed class SpanRecorder : IDisposable
{
    private readonly List<Activity> _stopped = [];
    private readonly ActivityListener _listener;

    /// <param name="sources">The names of the <see cref="ActivitySource"/>s to listen to.</param>
    /// <param name="keep">Which of their spans to keep, asked as each ends (when all its tags are set); all of them by default.</param>
    public SpanRecorder(IReadOnlyCollection<string> sources, Func<Activity, bool>? keep = null)
    {
        _listener = new ActivityListener
        {
            ShouldListenTo = source => sources.Contains(source.Name),
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = activity =>
            {
                if (keep is null || keep(activity))
                {
                    lock (_stopped)
                    {
                        _stopped.Add(activity);
                    }
                }
            },
        };
        ActivitySource.AddActivityListener(_listener);
    }

    /// <summary>The spans kept so far, in the order they ended.</summary>
    public List<Activity> Stopped
    {
        get
        {
            lock (_stopped)
            {
                return [.. _stopped];
            }
        }
    }

    public void Dispose() => _listener.Dispose();
}
