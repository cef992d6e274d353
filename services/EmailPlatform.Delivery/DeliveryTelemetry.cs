using System.Diagnostics;

namespace EmailPlatform.Delivery;

/// <summary>The delivery worker's trace source and the attribute names its spans and metrics carry.</summary>
internal static class DeliveryTelemetry
{
    /// <summary>Both the ActivitySource and the Meter use this name (ServiceDefaults listens to <c>EmailPlatform.*</c>).</summary>
    public const string Name = "EmailPlatform.Delivery";

    public static readonly ActivitySource Source = new(Name);

    public const string EmailId = "email.id";
    public const string ServerAddress = "server.address";
    public const string ServerPort = "server.port";
    public const string Relay = "emailplatform.relay";
    public const string RecipientCount = "emailplatform.recipient.count";

    /// <summary>The message as the relay receives it after DATA (CRLF line endings), in bytes: the figure SMTP <c>SIZE</c> uses.</summary>
    public const string MessageSize = "emailplatform.message.size";
    public const string ReplyCode = "smtp.reply.code";
    public const string EnhancedCode = "smtp.reply.enhanced_code";
    public const string ErrorType = "error.type";
    public const string Priority = "emailplatform.priority";
    public const string EnhancedClass = "emailplatform.enhanced_class";
    public const string Reason = "emailplatform.reason";
    public const string Lane = "emailplatform.lane";
}
