namespace EmailPlatform.Status.Bounces;

internal static partial class Log
{
    [LoggerMessage(EventId = 3501, Level = LogLevel.Information,
        Message = "Bounce report for email {EmailId}: {Reported} recipients reported, {Recorded} bounces newly recorded")]
    public static partial void Received(ILogger logger, Guid emailId, int reported, int recorded);

    [LoggerMessage(EventId = 3502, Level = LogLevel.Information, Message = "Bounce listener on {Endpoint} for {Domains}; STARTTLS: {StartTls}")]
    public static partial void Listening(ILogger logger, System.Net.IPEndPoint endpoint, string domains, string startTls);

    [LoggerMessage(EventId = 3503, Level = LogLevel.Warning, Message = "A bounce report received over SMTP could not be recorded; it was answered 451, and its sender will send it again")]
    public static partial void RecordFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 3504, Level = LogLevel.Information, Message = "Bounce listener's STARTTLS certificate read again after it changed: {Certificate}")]
    public static partial void CertificateRead(ILogger logger, string certificate);

    [LoggerMessage(EventId = 3505, Level = LogLevel.Warning,
        Message = "Bounce listener's STARTTLS certificate changed but could not be read; the one read before is still offered")]
    public static partial void CertificateNotRead(ILogger logger, Exception exception);
}
