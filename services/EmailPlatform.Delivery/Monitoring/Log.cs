namespace EmailPlatform.Delivery.Monitoring;

/// <summary>Monitoring logs (event ids 5000–5099).</summary>
internal static partial class Log
{
    [LoggerMessage(5001, LogLevel.Warning, "Could not read {Instrument}; the gauge keeps its last value and tries again at the next scrape")]
    public static partial void ReadFailed(ILogger logger, Exception exception, string instrument);
}
