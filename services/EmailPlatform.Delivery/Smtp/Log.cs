using Microsoft.Extensions.Logging;

namespace EmailPlatform.Delivery.Smtp;

/// <summary>SMTP attempt logs (event ids 2000–2099). Email id and relay only: never addresses, bodies or credentials.</summary>
internal static partial class Log
{
    [LoggerMessage(2001, LogLevel.Debug, "Sending email {EmailId} through relay {Relay} ({Host}:{Port}) to {RecipientCount} recipient(s)")]
    public static partial void Sending(ILogger logger, Guid emailId, string relay, string host, int port, int recipientCount);

    [LoggerMessage(2002, LogLevel.Debug, "Relay {Relay} accepted email {EmailId} with {ReplyCode} {EnhancedCode}; {RejectedCount} recipient(s) refused at RCPT TO")]
    public static partial void Accepted(ILogger logger, Guid emailId, string relay, int replyCode, string? enhancedCode, int rejectedCount);

    [LoggerMessage(2003, LogLevel.Information, "Relay {Relay} answered {ReplyCode} {EnhancedCode} to {Stage} for email {EmailId}")]
    public static partial void Refused(ILogger logger, Guid emailId, string relay, string stage, int replyCode, string? enhancedCode);

    [LoggerMessage(2004, LogLevel.Warning, "SMTP attempt for email {EmailId} through relay {Relay} ({Host}:{Port}) failed: {Reason}")]
    public static partial void TransportFault(ILogger logger, Exception exception, Guid emailId, string relay, string host, int port, string reason);

    [LoggerMessage(2005, LogLevel.Debug, "Could not close an SMTP connection to relay {Relay} cleanly")]
    public static partial void QuitFailed(ILogger logger, Exception exception, string relay);

    [LoggerMessage(2006, LogLevel.Debug, "An idle SMTP connection to relay {Relay} failed its NOOP check; opening a new one")]
    public static partial void StaleConnection(ILogger logger, Exception exception, string relay);

    [LoggerMessage(2007, LogLevel.Debug, "Connecting to a relay failed; retry {Retry} in {Delay}")]
    public static partial void ConnectRetry(ILogger logger, Exception? exception, int retry, TimeSpan delay);

    [LoggerMessage(2008, LogLevel.Information,
        "Email {EmailId}: the pooled connection to relay {Relay} was closed before MAIL FROM was answered; sending on a new connection")]
    public static partial void StaleConnectionReplaced(ILogger logger, Exception exception, Guid emailId, string relay);

    [LoggerMessage(2010, LogLevel.Warning,
        "Email {EmailId}: relay {Relay} ({Host}:{Port}) received the whole message but gave no reply to its end; unknown outcome, deferred")]
    public static partial void UnknownOutcome(ILogger logger, Exception exception, Guid emailId, string relay, string host, int port);
}
