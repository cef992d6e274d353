using System.Text.RegularExpressions;
using EmailPlatform.Contracts;

namespace EmailPlatform.Delivery.Smtp;

/// <summary>
/// Turns an SMTP reply into an outcome. The RFC 3463 enhanced status code at the start of the reply text
/// (<c>5.1.1</c>, <c>4.7.1</c>, …) decides when present; otherwise the reply code's first digit does:
/// 2xx delivered, 4xx deferred, 5xx bounced. Anything else is deferred: never bounce on a reply we do not
/// understand.
/// </summary>
internal static partial class SmtpReplyClassifier
{
    /// <summary>
    /// Builds the reply record. The text is kept whole (enhanced code included, trimmed, lines joined by
    /// <c>\n</c>) because that is what the relay said and what a person searching its logs needs; the
    /// enhanced code is also parsed out into its own field.
    /// </summary>
    public static SmtpReply ToReply(int code, string? text)
    {
        var trimmed = (text ?? "").Trim();
        return new SmtpReply(code, ParseEnhancedCode(trimmed), trimmed);
    }

    /// <summary>The enhanced status code the reply text starts with (<c>class.subject.detail</c>), if any.</summary>
    public static string? ParseEnhancedCode(string? text)
    {
        if (string.IsNullOrEmpty(text))
        {
            return null;
        }

        var match = EnhancedCode().Match(text.TrimStart());
        return match.Success ? match.Value : null;
    }

    public static RecipientOutcomeKind Classify(SmtpReply reply) => Classify(reply.Code, reply.EnhancedCode);

    public static RecipientOutcomeKind Classify(int code, string? enhancedCode)
    {
        var replyClass = enhancedCode is { Length: > 0 } ? enhancedCode[0] - '0' : code / 100;
        return replyClass switch
        {
            2 => RecipientOutcomeKind.Delivered,
            5 => RecipientOutcomeKind.Bounced,
            _ => RecipientOutcomeKind.Deferred,
        };
    }

    [GeneratedRegex(@"^[245]\.\d{1,3}\.\d{1,3}(?=\s|$)", RegexOptions.CultureInvariant)]
    private static partial Regex EnhancedCode();
}
