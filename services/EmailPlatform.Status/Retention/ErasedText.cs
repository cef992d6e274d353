using System.Text.RegularExpressions;
using EmailPlatform.ServiceDefaults.Addresses;

namespace EmailPlatform.Status.Retention;

/// <summary>
/// An erased address taken out of free text that may quote it: a relay's reply, or a reason built from one (an
/// auto-suppression's <c>Hard bounce 550 5.1.1: … &lt;bob@example.com&gt;: …</c>, copied onto every later send to the
/// address as <c>email.suppressed</c>). Each of the address's stored forms (<see cref="Storage.AddressKeys.StoredForms"/>),
/// in any case, is replaced by its placeholder where it stands as a whole address, not inside a longer one
/// (<c>jimbob@example.com</c>, <c>bob@example.com.au</c>).
/// </summary>
public sealed class ErasedText
{
    private readonly Regex _address;
    private readonly string _placeholder;

    public ErasedText(IReadOnlyList<string> forms, string placeholder)
    {
        // Not preceded by a character of a local part, nor followed by one of a domain (a dot only when a label follows).
        _address = new Regex(
            $@"(?<![\p{{L}}\p{{N}}._%+\-])(?:{string.Join('|', forms.Select(Regex.Escape))})(?![\p{{L}}\p{{N}}\-]|\.[\p{{L}}\p{{N}}])",
            RegexOptions.IgnoreCase | RegexOptions.CultureInvariant);
        _placeholder = placeholder;
    }

    /// <returns>The text with the address replaced, or the text itself when it does not name it.</returns>
    public string? Replace(string? text) => text is null ? null : _address.Replace(text, _placeholder);

    /// <returns>The metadata with the address replaced in its values, or the metadata itself when none names it.</returns>
    public Dictionary<string, string> Replace(Dictionary<string, string> metadata) =>
        metadata.Values.Any(_address.IsMatch)
            ? metadata.ToDictionary(m => m.Key, m => _address.Replace(m.Value, _placeholder), StringComparer.Ordinal)
            : metadata;

    /// <summary>The texts of an email that can quote a recipient's address besides its headers and bodies: its subject and metadata values.</summary>
    /// <returns>Whether the metadata changed (its search rows, <see cref="Storage.EmailLabelRecord"/>, are to be written again).</returns>
    public bool EraseFrom(Storage.EmailRecord email)
    {
        email.Subject = Replace(email.Subject);
        var metadata = Replace(email.Metadata);
        if (ReferenceEquals(metadata, email.Metadata))
        {
            return false;
        }

        email.Metadata = metadata;
        return true;
    }
}
