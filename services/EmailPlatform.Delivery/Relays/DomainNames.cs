using System.Globalization;

namespace EmailPlatform.Delivery.Relays;

/// <summary>
/// The one form in which the worker compares a sender domain with a configured one (a routing rule's
/// <c>SenderDomain</c>, a DKIM key's <c>Domain</c>): lower-case, with an internationalized name as its A-label
/// (<c>bücher.example</c> becomes <c>xn--bcher-kva.example</c>). MimeKit reads a From address's domain in Unicode
/// even when it was written as an A-label, while an operator may well configure the A-label, the form DNS and the
/// DKIM selector's record use; compared as written, the two never match and the mail goes out unrouted or unsigned.
/// </summary>
internal static class DomainNames
{
    private static readonly IdnMapping Idn = new();

    /// <summary>
    /// The domain's A-label form, lower-case. A name IDNA cannot map (invalid punycode) is only lower-cased: it can
    /// still equal a domain configured the same way.
    /// </summary>
    /// <remarks>
    /// Lower-cased before the mapping too: with the invariant globalization the services run under, IdnMapping does
    /// not fold case itself, and <c>BÜCHER.example</c> would become another A-label (<c>xn--bcher-2pa</c>) than
    /// <c>bücher.example</c> (<c>xn--bcher-kva</c>).
    /// </remarks>
    public static string ToAscii(string domain)
    {
        var lower = domain.ToLowerInvariant();
        try
        {
            return Idn.GetAscii(lower).ToLowerInvariant();
        }
        catch (ArgumentException)
        {
            return lower;
        }
    }
}
