namespace EmailPlatform.Ingress.Scheduling;

internal static partial class Log
{
    [LoggerMessage(EventId = 1200, Level = LogLevel.Information, Message = "CancelEmail {CommandId} for email {EmailId}: {Outcome}")]
    public static partial void CancelCommandHandled(ILogger logger, Guid emailId, Guid commandId, UnsentChange outcome);
}
