namespace EmailPlatform.Ingress.Reads;

internal static partial class Log
{
    [LoggerMessage(EventId = 1400, Level = LogLevel.Warning,
        Message = "The status service's answer to {Method} {Route} was not complete within {TimeoutSeconds} s (Ingress:StatusTimeout): the client's connection was aborted after part of it")]
    public static partial void StatusAnswerCutOff(ILogger logger, string method, string? route, double timeoutSeconds);
}
