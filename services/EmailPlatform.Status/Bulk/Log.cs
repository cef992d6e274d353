namespace EmailPlatform.Status.Bulk;

internal static partial class Log
{
    [LoggerMessage(EventId = 3301, Level = LogLevel.Debug, Message = "Published {Count} {MessageType} commands of bulk operation {AuditId}")]
    public static partial void Published(ILogger logger, int count, string messageType, Guid auditId);

    [LoggerMessage(EventId = 3302, Level = LogLevel.Warning, Message = "Publishing bulk commands failed; retrying in {Delay}")]
    public static partial void PublishFailed(ILogger logger, Exception exception, TimeSpan delay);

    [LoggerMessage(EventId = 3303, Level = LogLevel.Error,
        Message = "Bulk command row {RowId} of operation {AuditId} (type '{MessageType}') cannot be read and will never be published; it is parked (parked_at set) for inspection")]
    public static partial void Unpublishable(ILogger logger, Exception exception, Guid rowId, Guid auditId, string messageType);
}
