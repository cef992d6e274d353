using EmailPlatform.ServiceDefaults.Addresses;
using EmailPlatform.Status.Retention;
using MimeKit;

namespace EmailPlatform.Status.Storage;

/// <summary>
/// The addresses an email's To, Cc, Bcc and Reply-To entries name, as MimeKit reads them, each entry parsed once: the
/// recorder takes the email's recipients and its <see cref="HeaderAddressRecord"/> rows from one parse, and the catch-up
/// (<see cref="HeaderAddressCatchUp"/>) the rows of an email stored without them from the same code.
/// </summary>
public sealed class HeaderAddresses
{
    private readonly Dictionary<string, string[]> _byEntry = new(StringComparer.Ordinal);
    private readonly List<string> _all = [];

    private HeaderAddresses()
    {
    }

    /// <summary>Every address of every entry, header after header (an entry given twice counts twice).</summary>
    public IReadOnlyList<string> All => _all;

    public static HeaderAddresses Parse(params IReadOnlyList<string>[] headers)
    {
        var parsed = new HeaderAddresses();
        foreach (var header in headers)
        {
            foreach (var entry in header)
            {
                if (!parsed._byEntry.TryGetValue(entry, out var addresses))
                {
                    addresses = AddressesOf(entry);
                    parsed._byEntry.Add(entry, addresses);
                }

                parsed._all.AddRange(addresses);
            }
        }

        return parsed;
    }

    /// <summary>The addresses one entry names, from the parse when it was one of the headers parsed.</summary>
    public IEnumerable<string> Of(string entry) => _byEntry.TryGetValue(entry, out var addresses) ? addresses : AddressesOf(entry);

    /// <summary>
    /// The addresses a To, Cc, Bcc or Reply-To entry names: a mailbox's, or a group's members' (a raw send's header);
    /// an entry MimeKit cannot read stands for itself.
    /// </summary>
    public static string[] AddressesOf(string entry) =>
        MailboxAddress.TryParse(entry, out var mailbox) ? [mailbox.Address]
        : InternetAddressList.TryParse(entry, out var list) ? [.. list.Mailboxes.Select(m => m.Address)]
        : [entry];

    /// <summary>
    /// The keys (<see cref="AddressKeys"/>) that get a header address row: those that are addresses (an <c>@</c>, at most
    /// <see cref="StatusDbContext.HeaderAddressMaxLength"/> characters), are not among <paramref name="recipients"/> and
    /// are not an erasure's placeholder, which names no one; each once.
    /// </summary>
    public static IEnumerable<string> NotRecipients(IEnumerable<string> keys, IEnumerable<string> recipients)
    {
        var known = recipients.ToHashSet(StringComparer.Ordinal);
        foreach (var key in keys)
        {
            if (key.Length <= StatusDbContext.HeaderAddressMaxLength && key.Contains('@', StringComparison.Ordinal)
                && !RecipientErasure.IsPlaceholder(key) && known.Add(key))
            {
                yield return key;
            }
        }
    }
}
