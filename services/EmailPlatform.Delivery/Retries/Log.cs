namespace EmailPlatform.Delivery.Retries;

/// <summary>Retry scheduler logs (event ids 3000–3099). Email id only: never addresses.</summary>
internal static partial class Log
{
    [LoggerMessage(3001, LogLevel.Debug, "Handed email {EmailId} back to the bus for {RecipientCount} due recipient(s)")]
    public static partial void HandedBack(ILogger logger, Guid emailId, int recipientCount);

    [LoggerMessage(3002, LogLevel.Warning, "The retry scheduler could not run; it tries again shortly")]
    public static partial void SchedulerFailed(ILogger logger, Exception exception);

    [LoggerMessage(3003, LogLevel.Information,
        "Retry of email {EmailId} requested (command {CommandId}): {Due} recipient(s) due now, {WithoutContent} failed one(s) whose content is no longer kept")]
    public static partial void RetryRequested(ILogger logger, Guid emailId, Guid commandId, int due, int withoutContent);
}
