namespace EmailPlatform.Status.Bulk;

/// <summary>Configuration section <c>Status:Bulk</c>.</summary>
public sealed class BulkOptions
{
    public const string SectionName = "Status:Bulk";

    /// <summary>The most emails one bulk request touches; past it the answer is <c>truncated</c> with a <c>next_cursor</c>.</summary>
    public int MaxEmails { get; set; } = 10_000;

    /// <summary>How long publishing one row of commands (up to 500) may wait for the broker's confirms before it is tried again.</summary>
    public TimeSpan PublishTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How often the publisher looks for commands when nothing signals new ones: rows that another replica committed
    /// and could not publish (it stopped, or the broker was down).
    /// </summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(5);
}
