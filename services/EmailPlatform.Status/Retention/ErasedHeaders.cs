using EmailPlatform.ServiceDefaults.Addresses;
using EmailPlatform.Status.Storage;
using MimeKit;

namespace EmailPlatform.Status.Retention;

/// <summary>An erased address taken out of the headers an email shows: To, Cc, Bcc and Reply-To.</summary>
public static class ErasedHeaders
{
    /// <summary>
    /// An email's To, Cc, Bcc or Reply-To with each address that <paramref name="placeholderOf"/> gives a placeholder
    /// for (by its key) replaced: an entry that is one mailbox becomes the placeholder alone, its display name going with
    /// the address; in a group (a raw send's <c>Friends: a@b, c@d;</c>) or a list, only that member is replaced.
    /// </summary>
    public static List<string> Replace(IEnumerable<string> entries, Func<string, string?> placeholderOf) =>
        [.. entries.Select(entry =>
            MailboxAddress.TryParse(entry, out var mailbox) ? placeholderOf(AddressKeys.Of(mailbox.Address)) ?? entry
            : InternetAddressList.TryParse(entry, out var list) ? (ReplaceMembers(list, placeholderOf) ? list.ToString() : entry)
            : placeholderOf(AddressKeys.Of(entry)) ?? entry)];

    private static bool ReplaceMembers(InternetAddressList list, Func<string, string?> placeholderOf)
    {
        var replaced = false;
        for (var i = 0; i < list.Count; i++)
        {
            if (list[i] is GroupAddress group)
            {
                replaced |= ReplaceMembers(group.Members, placeholderOf);
            }
            else if (list[i] is MailboxAddress member && placeholderOf(AddressKeys.Of(member.Address)) is { } placeholder)
            {
                list[i] = new MailboxAddress(string.Empty, placeholder);
                replaced = true;
            }
        }

        return replaced;
    }
}
