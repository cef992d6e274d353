using Microsoft.Extensions.Logging;

namespace EmailPlatform.Delivery.Suppressions;

/// <summary>Suppression lookup logs (event ids 4000–4099; 4002 is SuppressionListCheck's). Never the address.</summary>
internal static partial class Log
{
    [LoggerMessage(4001, LogLevel.Warning,
        "Suppression lookup at the status service (Delivery:StatusUrl) failed ({Failure}): the recipient is sent as not suppressed")]
    public static partial void LookupFailed(ILogger logger, Exception? exception, string failure);

    [LoggerMessage(4005, LogLevel.Warning,
        "Suppression lookup at the status service (Delivery:StatusUrl) failed ({Failure}) for an address the suppression filter holds: the recipient is deferred")]
    public static partial void LookupFailedForFiltered(ILogger logger, Exception? exception, string failure);

    [LoggerMessage(4003, LogLevel.Warning,
        "Downloading the suppression filter from the status service failed ({Failure}): addresses are asked about one by one until a download succeeds")]
    public static partial void FilterRefreshFailed(ILogger logger, Exception? exception, string failure);

    [LoggerMessage(4004, LogLevel.Information,
        "The status service serves no suppression filter (an earlier version): every address is asked about one by one")]
    public static partial void FilterMissing(ILogger logger);
}
