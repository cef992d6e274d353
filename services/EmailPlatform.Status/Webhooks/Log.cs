namespace EmailPlatform.Status.Webhooks;

internal static partial class Log
{
    [LoggerMessage(EventId = 3101, Level = LogLevel.Warning, Message = "Webhook subscription {SubscriptionId} disabled: {Reason}")]
    public static partial void SubscriptionDisabled(ILogger logger, Guid subscriptionId, string reason);

    [LoggerMessage(EventId = 3102, Level = LogLevel.Error, Message = "The webhook dispatcher failed to claim or record deliveries; it tries again")]
    public static partial void DispatchFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 3103, Level = LogLevel.Debug, Message = "Webhook delivery {DeliveryId} for email {EmailId} attempt {Attempt}: {Outcome}")]
    public static partial void Attempted(ILogger logger, Guid deliveryId, Guid emailId, int attempt, string outcome);

    [LoggerMessage(EventId = 3104, Level = LogLevel.Information, Message = "A webhook delivery was deleted while it was sent; the attempts recorded with it are saved one by one")]
    public static partial void SavedOneByOne(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 3105, Level = LogLevel.Error, Message = "Webhook housekeeping failed; deliveries are still sent, and it is tried again in {RetryIn}")]
    public static partial void HousekeepingFailed(ILogger logger, Exception exception, TimeSpan retryIn);

    [LoggerMessage(EventId = 3106, Level = LogLevel.Error, Message = "Sending webhook delivery {DeliveryId} failed unexpectedly; it is sent again once its lease lapses")]
    public static partial void SendFailed(ILogger logger, Guid deliveryId, Exception? exception);

    [LoggerMessage(EventId = 3107, Level = LogLevel.Information, Message = "Deleted webhook subscription {SubscriptionId} removed, its deliveries purged")]
    public static partial void DeletedSubscriptionRemoved(ILogger logger, Guid subscriptionId);

    [LoggerMessage(EventId = 3108, Level = LogLevel.Warning,
        Message = "Webhook subscription {SubscriptionId} is disabled, but its pending deliveries could not be marked skipped yet; the dispatcher's sweep marks them, and none is sent meanwhile")]
    public static partial void SkipLeftToSweep(ILogger logger, Guid subscriptionId, Exception exception);

    [LoggerMessage(EventId = 3109, Level = LogLevel.Error, Message = "Webhook housekeeping failed to {Step}; it tries again at its next pass, and the sends go on")]
    public static partial void HousekeepingStepFailed(ILogger logger, string step, Exception exception);

    [LoggerMessage(EventId = 3110, Level = LogLevel.Warning,
        Message = "Webhook subscription {SubscriptionId} was changed, but waiting for the recording batches that read it before the change failed; events they record follow the subscription as it was")]
    public static partial void BatchWaitFailed(ILogger logger, Guid subscriptionId, Exception exception);
}
