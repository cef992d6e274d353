namespace EmailPlatform.Ingress.Outbox;

internal static partial class Log
{
    [LoggerMessage(EventId = 1100, Level = LogLevel.Debug, Message = "Published {Count} accepted emails")]
    public static partial void Published(ILogger logger, int count);

    [LoggerMessage(EventId = 1101, Level = LogLevel.Warning, Message = "Publishing the outbox failed; retrying in {Delay}")]
    public static partial void PublishFailed(ILogger logger, Exception exception, TimeSpan delay);

    [LoggerMessage(EventId = 1102, Level = LogLevel.Error,
        Message = "Outbox message {OutboxMessageId} of email {EmailId} (type '{MessageType}') cannot be read and will never be published; it is parked (available_at 9999-12-31) for inspection")]
    public static partial void Unpublishable(ILogger logger, Exception exception, Guid outboxMessageId, Guid emailId, string messageType);

    [LoggerMessage(EventId = 1104, Level = LogLevel.Error,
        Message = "Outbox message {OutboxMessageId} of email {EmailId} (type '{MessageType}') was not published while the rest of its batch was; it is tried again after {Lease}")]
    public static partial void RowNotPublished(ILogger logger, Exception? exception, Guid outboxMessageId, Guid emailId, string messageType, TimeSpan lease);

    [LoggerMessage(EventId = 1105, Level = LogLevel.Warning,
        Message = "Outbox message {OutboxMessageId} of email {EmailId} (type '{MessageType}') was claimed by another publisher after this one's lease ended at {LeaseEnd:O}; its outcome here is not recorded and the row is left to that publisher")]
    public static partial void ClaimLost(ILogger logger, Guid outboxMessageId, Guid emailId, string messageType, DateTime leaseEnd);

    [LoggerMessage(EventId = 1103, Level = LogLevel.Warning, Message = "Counting the parked outbox messages failed; the emailplatform.outbox.parked gauge keeps its last count")]
    public static partial void CountParkedFailed(ILogger logger, Exception exception);
}
