namespace EmailPlatform.Delivery.Storage;

/// <summary>
/// An operator command (<c>RetryRecipients</c>) already carried out, so a redelivered one does nothing. Kept for
/// <c>Delivery:RecordRetention</c>.
/// </summary>
internal sealed class ProcessedCommand
{
    public Guid CommandId { get; set; }

    public Guid EmailId { get; set; }

    public DateTime ProcessedAt { get; set; }
}
