using Microsoft.Extensions.Logging;

namespace EmailPlatform.Delivery.Suppressions;

/// <summary>Suppression lookup logs (event ids 4000–4099). Never the address.</summary>
internal static partial class Log
{
    [LoggerMessage(4001, LogLevel.Warning,
        "Suppression lookup at the status service (Delivery:StatusUrl) failed ({Failure}): the recipient is sent as not suppressed")]
    public static partial void LookupFailed(ILogger logger, Exception? exception, string failure);
}
