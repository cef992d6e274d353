namespace EmailPlatform.Status.Bounces;

internal static partial class Log
{
    [LoggerMessage(EventId = 3501, Level = LogLevel.Information,
        Message = "Bounce report for email {EmailId}: {Reported} recipients reported, {Recorded} bounces newly recorded")]
    public static partial void Received(ILogger logger, Guid emailId, int reported, int recorded);
}
