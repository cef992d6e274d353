namespace EmailPlatform.Status.Recording;

/// <summary>Configuration section <c>Status:Recording</c>: how events are gathered into transactions.</summary>
public sealed class RecordingOptions
{
    public const string SectionName = "Status:Recording";

    /// <summary>The most events recorded in one transaction.</summary>
    public int MaxBatchSize { get; set; } = 128;

    /// <summary>
    /// How long the writer waits for more events when fewer than <see cref="MaxBatchSize"/> are ready. Zero (the
    /// default) records what is there at once: while one batch commits the next one gathers, so batches grow with
    /// the load by themselves and a lone event is never held back.
    /// </summary>
    public TimeSpan MaxBatchDelay { get; set; } = TimeSpan.Zero;

    /// <summary>
    /// Messages each status queue hands to this replica at once (and its prefetch). Each waits, unacknowledged, for
    /// the commit of the batch it is in, so this bounds what a batch can gather: keep it at least <see cref="MaxBatchSize"/>.
    /// </summary>
    public int ConcurrentMessageLimit { get; set; } = 128;
}
