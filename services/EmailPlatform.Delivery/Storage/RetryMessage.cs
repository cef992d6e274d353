namespace EmailPlatform.Delivery.Storage;

/// <summary>
/// The command of an email that has recipients still to retry, kept so the scheduler can hand it back to the bus
/// for just those recipients. Stored only while needed (a deferral, or a claim a crashed worker may have left).
/// </summary>
internal sealed class RetryMessage
{
    public Guid EmailId { get; set; }

    /// <summary>The <c>SendEmail</c> as JSON.</summary>
    public string Command { get; set; } = "";

    public DateTime CreatedAt { get; set; }
}
