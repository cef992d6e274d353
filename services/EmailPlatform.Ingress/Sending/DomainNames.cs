using System.Globalization;

namespace EmailPlatform.Ingress.Sending;

/// <summary>
/// Host names as SMTP and DNS take them: an internationalized name (<c>bücher.example</c>) is valid when its
/// IDNA (punycode) form is, under the STD3 rules: letters, digits and inner hyphens, labels of 1 to 63
/// characters, 253 in all.
/// </summary>
internal static class DomainNames
{
    private static readonly IdnMapping Idn = new() { UseStd3AsciiRules = true };

    public static bool TryToAscii(string? domain, out string ascii)
    {
        ascii = "";
        if (string.IsNullOrWhiteSpace(domain) || SendEmailValidator.ContainsControl(domain))
        {
            return false;
        }

        try
        {
            // Lower-cased first: under invariant globalization IdnMapping folds no case, and BÜCHER.example would become
            // another A-label (xn--bcher-2pa) than bücher.example (xn--bcher-kva).
            ascii = Idn.GetAscii(domain.ToLowerInvariant()).ToLowerInvariant();
        }
        catch (ArgumentException)
        {
            return false;
        }

        return ascii.Length <= 253 && ascii.Split('.').All(label => label.Length is > 0 and <= 63
            && label[0] != '-' && label[^1] != '-' && label.All(c => char.IsAsciiLetterOrDigit(c) || c == '-'));
    }

    /// <summary>An address's domain: a host name, or a bracketed address literal (<c>[192.0.2.1]</c>) as MimeKit parsed it.</summary>
    public static bool IsValidMailDomain(string domain) =>
        (domain.StartsWith('[') && domain.EndsWith(']')) || TryToAscii(domain, out _);
}
