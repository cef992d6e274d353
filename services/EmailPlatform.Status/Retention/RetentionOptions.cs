namespace EmailPlatform.Status.Retention;

/// <summary>Configuration section <c>Status:Retention</c>.</summary>
public sealed class RetentionOptions
{
    public const string SectionName = "Status:Retention";

    /// <summary>Html, text and attachment names are removed from emails due (scheduled for, or else accepted) longer ago than this.</summary>
    public TimeSpan BodiesAfter { get; set; } = TimeSpan.FromDays(30);

    /// <summary>
    /// Timeline events, and webhook deliveries that are no longer pending, older than this are deleted; the events of an
    /// email scheduled for less than this long ago (or for later) are kept until it too was due this long ago.
    /// </summary>
    public TimeSpan EventsAfter { get; set; } = TimeSpan.FromDays(90);

    /// <summary>How often the purge runs.</summary>
    public TimeSpan Interval { get; set; } = TimeSpan.FromHours(1);

    /// <summary>Rows changed per statement, so a purge never holds long locks.</summary>
    public int BatchSize { get; set; } = 1000;
}
