namespace EmailPlatform.Status.Storage;

/// <summary>Configuration section <c>Status:HeaderAddressCatchUp</c> (<see cref="HeaderAddressCatchUp"/>).</summary>
public sealed class HeaderAddressCatchUpOptions
{
    public const string SectionName = "Status:HeaderAddressCatchUp";

    /// <summary>Whether this replica runs the catch-up; any number of replicas may.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Emails read and written per transaction, so that a batch holds their locks only briefly.</summary>
    public int BatchSize { get; set; } = 500;

    /// <summary>How often a caught-up replica looks again, for emails that a replica of an earlier version records meanwhile.</summary>
    public TimeSpan Interval { get; set; } = TimeSpan.FromMinutes(1);
}
