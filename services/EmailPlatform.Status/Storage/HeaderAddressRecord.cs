using EmailPlatform.ServiceDefaults.Addresses;

namespace EmailPlatform.Status.Storage;

/// <summary>
/// An address that an email's To, Cc, Bcc or Reply-To names but that is not one of its recipients: a Reply-To, or in a
/// raw send a header address outside the envelope (a list, a group's member). One row each, in the form of
/// <see cref="AddressKeys"/>, so that an erasure finds every email naming an address through an index, here and in
/// <c>recipients(address)</c>, instead of reading every email's headers. The recorder writes them with the email's
/// details; <see cref="HeaderAddressCatchUp"/> writes those of emails stored without them.
/// </summary>
public sealed class HeaderAddressRecord
{
    public Guid EmailId { get; set; }

    public required string Address { get; set; }
}
