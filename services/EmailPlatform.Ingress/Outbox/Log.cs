namespace EmailPlatform.Ingress.Outbox;

internal static partial class Log
{
    [LoggerMessage(EventId = 1100, Level = LogLevel.Debug, Message = "Published {Count} accepted emails")]
    public static partial void Published(ILogger logger, int count);

    [LoggerMessage(EventId = 1101, Level = LogLevel.Warning, Message = "Publishing the outbox failed; retrying in {Delay}")]
    public static partial void PublishFailed(ILogger logger, Exception exception, TimeSpan delay);
}
