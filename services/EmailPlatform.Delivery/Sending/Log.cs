using Microsoft.Extensions.Logging;

namespace EmailPlatform.Delivery.Sending;

/// <summary>Sending logs (event ids 1000–1099). Email id and relay only: never addresses, bodies or attachments.</summary>
internal static partial class Log
{
    [LoggerMessage(1001, LogLevel.Information,
        "Email {EmailId} attempt {Attempt} through relay {Relay}: {Delivered} delivered, {Deferred} deferred, {Bounced} bounced")]
    public static partial void Outcome(ILogger logger, Guid emailId, int attempt, string relay, int delivered, int deferred, int bounced);
}
