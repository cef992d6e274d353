namespace EmailPlatform.Status.Bulk;

/// <summary>Configuration section <c>Status:Bulk</c>.</summary>
public sealed class BulkOptions
{
    public const string SectionName = "Status:Bulk";

    /// <summary>The most emails one bulk request touches; past it the answer is <c>truncated</c> with a <c>next_cursor</c>.</summary>
    public int MaxEmails { get; set; } = 10_000;
}
