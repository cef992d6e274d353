using System.Text.RegularExpressions;
using EmailPlatform.Contracts;

namespace EmailPlatform.Delivery.Smtp;

/// <summary>
/// Turns an SMTP reply into an outcome. The reply code decides, as RFC 5321 has a client act: only a 2xx is delivered,
/// a 5xx is bounced and a 4xx deferred, whatever the text says. The RFC 3463 enhanced status code at the start of the
/// reply text (<c>5.1.1</c>, <c>4.7.1</c>, …) is recorded beside it and says what kind of bounce it is (whether it
/// suppresses the address: <c>Status:Suppression:HardBounceCodes</c>). A relay whose enhanced code's class contradicts
/// its reply code (<c>452 5.2.2</c>, <c>554 4.4.7</c>; RFC 2034 requires them to match) is taken at its reply code, as
/// Postfix takes it: a temporary refusal is never turned into a final bounce, and a permanent one is not retried for
/// days. Anything else is deferred: never bounce on a reply we do not understand.
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

    public static RecipientOutcomeKind Classify(SmtpReply reply)
    {
        var code = reply.Code;
        var codeClass = code / 100;
        if (code is < 200 or > 599 || codeClass is not (2 or 4 or 5))
        {
            return RecipientOutcomeKind.Deferred;
        }

        if (codeClass == 2)
        {
            return RecipientOutcomeKind.Delivered;
        }

        return codeClass == 5 ? RecipientOutcomeKind.Bounced : RecipientOutcomeKind.Deferred;
    }

    [GeneratedRegex(@"^[245]\.\d{1,3}\.\d{1,3}(?=\s|$)", RegexOptions.CultureInvariant)]
    private static partial Regex EnhancedCode();
}
