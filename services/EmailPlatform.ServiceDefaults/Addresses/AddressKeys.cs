using System.Globalization;

namespace EmailPlatform.ServiceDefaults.Addresses;

/// <summary>
/// The one form in which the status store keeps and looks up an address (recipients, events, suppressions), and in which
/// the delivery workers look one up in its suppression filter (<see cref="Suppressions.SuppressionFilter"/>): trimmed,
/// lower-cased, and with an internationalized domain in its Unicode form. MimeKit, which parses every address at the
/// ingress, decodes a punycode domain (<c>user@xn--bcher-kva.de</c> becomes <c>user@bücher.de</c>), so that is the form
/// the envelope, the workers' outcomes and their suppression lookups carry; an address given to the API in its
/// punycode form, or in capitals (which MimeKit leaves alone), is the same address.
/// </summary>
public static class AddressKeys
{
    private static readonly IdnMapping Idn = new();

    public static string Of(string address)
    {
        var key = address.Trim().ToLowerInvariant();
        var at = key.LastIndexOf('@');
        if (at < 0 || key.IndexOf("xn--", at, StringComparison.Ordinal) < 0)
        {
            return key;
        }

        try
        {
            return key[..(at + 1)] + Idn.GetUnicode(key[(at + 1)..]).ToLowerInvariant();
        }
        catch (ArgumentException)
        {
            // Not valid punycode: left as it is, as MimeKit leaves it.
            return key;
        }
    }

    /// <summary>
    /// A key (<see cref="Of"/>) and, for an internationalized domain, its punycode form too: what an erasure also looks
    /// for, in rows written before every address was stored in one form.
    /// </summary>
    public static IReadOnlyList<string> StoredForms(string key)
    {
        var at = key.LastIndexOf('@');
        if (at < 0 || key.AsSpan(at + 1).IndexOfAnyExceptInRange((char)0, (char)127) < 0)
        {
            return [key];
        }

        try
        {
            return [key, key[..(at + 1)] + Idn.GetAscii(key[(at + 1)..]).ToLowerInvariant()];
        }
        catch (ArgumentException)
        {
            return [key];
        }
    }
}
