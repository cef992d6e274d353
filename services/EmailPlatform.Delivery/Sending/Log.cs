using Microsoft.Extensions.Logging;

namespace EmailPlatform.Delivery.Sending;

/// <summary>Sending logs (event ids 1000–1099). Email id and relay only: never addresses, bodies or attachments.</summary>
internal static partial class Log
{
    [LoggerMessage(1001, LogLevel.Information,
        "Email {EmailId} attempt {Attempt} through relay {Relay}: {Delivered} delivered, {Deferred} deferred, {Bounced} bounced, {Failed} failed, {Suppressed} suppressed")]
    public static partial void Outcome(ILogger logger, Guid emailId, int attempt, string relay, int delivered, int deferred, int bounced, int failed, int suppressed);

    [LoggerMessage(1002, LogLevel.Error,
        "Email {EmailId} faulted ({ExceptionType}): its {RecipientCount} unfinished recipient(s) are marked failed; the command is in the error queue")]
    public static partial void Faulted(ILogger logger, Guid emailId, string exceptionType, int recipientCount);

    [LoggerMessage(1003, LogLevel.Warning,
        "Could not hand back the claim on email {EmailId} after {Cause}; it is handed back when the claim lapses")]
    public static partial void ReleaseFailed(ILogger logger, Exception exception, Guid emailId, string cause);

    [LoggerMessage(1004, LogLevel.Warning,
        "Relay {Relay} failed repeatedly: it is skipped for Delivery:BreakerCoolDown, then probed with one message")]
    public static partial void BreakerOpened(ILogger logger, string relay);

    [LoggerMessage(1005, LogLevel.Warning,
        "The claim on email {EmailId} lapsed and was taken over before MAIL FROM; nothing was sent, and the command is tried again from the store")]
    public static partial void ClaimLost(ILogger logger, Exception exception, Guid emailId);

    [LoggerMessage(1006, LogLevel.Error,
        "The content of email {EmailId} is no longer in the content store; its unsent recipients are marked failed")]
    public static partial void ContentGone(ILogger logger, Guid emailId);

    [LoggerMessage(1007, LogLevel.Error,
        "Email {EmailId} waited for the store for as long as a message may be held and still could not reach it: the command goes back into its lane to wait again, no recipient is failed for it (the error queue keeps a copy, which is harmless to move back)")]
    public static partial void StoreOutageOutlasted(ILogger logger, Guid emailId);

    [LoggerMessage(1008, LogLevel.Information,
        "Email {EmailId} got its connection while the worker is stopping: no transaction starts; the message goes back to its queue")]
    public static partial void HeldForShutdown(ILogger logger, Guid emailId);

    [LoggerMessage(1009, LogLevel.Information,
        "Email {EmailId} got its connection while the worker is stopping, and no broker would give its message again: nothing is sent; its claim is handed back with the command kept, due at the next start")]
    public static partial void NotSentForShutdown(ILogger logger, Guid emailId);

    [LoggerMessage(1010, LogLevel.Debug,
        "Email {EmailId} reached the worker while it is stopping, and no broker would give its message again: nothing is claimed; the next start puts it back")]
    public static partial void LeftForNextStart(ILogger logger, Guid emailId);
}
