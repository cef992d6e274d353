namespace EmailPlatform.Delivery.Claims;

/// <summary>Claim logs (event ids 6000–6099). Email id only: never addresses.</summary>
internal static partial class Log
{
    [LoggerMessage(6001, LogLevel.Warning, "Could not renew the claim on email {EmailId}; trying again at the next beat")]
    public static partial void RenewFailed(ILogger logger, Exception exception, Guid emailId);

    [LoggerMessage(6002, LogLevel.Warning,
        "Recording the outcome of email {EmailId} failed (try {Tries}): the store is unreachable; trying again in {Pause} while the claim holds")]
    public static partial void RecordRetried(ILogger logger, Exception exception, Guid emailId, int tries, TimeSpan pause);
}
