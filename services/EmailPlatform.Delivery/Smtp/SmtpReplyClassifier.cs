using System.Text.RegularExpressions;
using EmailPlatform.Contracts;

namespace EmailPlatform.Delivery.Smtp;

/// <summary>
/// Turns an SMTP reply into an outcome. The reply code decides success: only a 2xx is delivered, whatever its
/// text says. For a 4xx or 5xx the RFC 3463 enhanced status code at the start of the reply text (<c>5.1.1</c>,
/// <c>4.7.1</c>, …) decides between deferred (4) and bounced (5) when present; otherwise the code's first digit
/// does. Anything else is deferred: never bounce on a reply we do not understand.
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
        var codeClass = code / 100;
        if (code is < 200 or > 599 || codeClass is not (2 or 4 or 5))
        {
            return RecipientOutcomeKind.Deferred;
        }

        if (codeClass == 2)
        {
            return RecipientOutcomeKind.Delivered;
        }

        // A failure reply: the enhanced class may say 4 or 5, never turn it into a success.
        var failureClass = enhancedCode is ['4' or '5', ..] ? enhancedCode[0] - '0' : codeClass;
        return failureClass == 5 ? RecipientOutcomeKind.Bounced : RecipientOutcomeKind.Deferred;
    }

    [GeneratedRegex(@"^[245]\.\d{1,3}\.\d{1,3}(?=\s|$)", RegexOptions.CultureInvariant)]
    private static partial Regex EnhancedCode();
}
