using System.Text;
using EmailPlatform.Delivery.Relays;
using Microsoft.Extensions.Options;
using MimeKit;
using MimeKit.Cryptography;

namespace EmailPlatform.Delivery.Dkim;

/// <summary>
/// Signs outgoing mail with DKIM (RFC 6376) per sender domain: RSA-SHA256, relaxed/relaxed canonicalization, over
/// the headers a receiver displays or a replay would change. Mail from a domain without a key goes unsigned.
/// </summary>
/// <remarks>
/// An internationalized domain matches its key whether either is written in Unicode or as an A-label
/// (<see cref="DomainNames"/>), and is signed with <c>d=</c> as the A-label: the form a receiver looks up in DNS
/// (<c>selector._domainkey.xn--bcher-kva.example</c>) and the one RFC 6376 requires in the signature.
/// </remarks>
internal sealed class DkimSigning(IOptions<DeliveryOptions> options)
{
    /// <summary>Signed when present. From is required by RFC 6376; the rest guard what a reader sees and threads by.</summary>
    public static readonly string[] SignedHeaders =
    [
        "From", "Sender", "Reply-To", "To", "Cc", "Subject", "Date", "Message-ID", "In-Reply-To", "References",
        "MIME-Version", "Content-Type", "Content-Transfer-Encoding", "List-Unsubscribe", "List-Unsubscribe-Post",
    ];

    private readonly Lazy<IReadOnlyDictionary<string, DkimSigner>> _signers = new(() => Load(options.Value));

    public bool Sign(MimeMessage message)
    {
        var domain = message.From.Mailboxes.FirstOrDefault()?.Domain;
        if (domain is null || !_signers.Value.TryGetValue(DomainNames.ToAscii(domain), out var signer))
        {
            return false;
        }

        // Sign the bytes that will travel: MailKit then has nothing left to re-encode for a relay without 8BITMIME.
        message.Prepare(EncodingConstraint.SevenBit);
        signer.Sign(message, SignedHeaders.Where(h => message.Headers.Contains(h)).ToList());
        return true;
    }

    /// <summary>A signer for one configured key; throws when the key cannot be read (used by validation at start).</summary>
    public static DkimSigner CreateSigner(DkimKeyOptions key)
    {
        using var pem = key.PrivateKey is { Length: > 0 } inline
            ? new MemoryStream(Encoding.ASCII.GetBytes(inline))
            : (Stream)File.OpenRead(key.PrivateKeyFile!);
        return new DkimSigner(pem, DomainNames.ToAscii(key.Domain), key.Selector, DkimSignatureAlgorithm.RsaSha256)
        {
            HeaderCanonicalizationAlgorithm = DkimCanonicalizationAlgorithm.Relaxed,
            BodyCanonicalizationAlgorithm = DkimCanonicalizationAlgorithm.Relaxed,
        };
    }

    /// <summary>
    /// One signer per domain, keyed by its A-label. Validation refuses a domain configured twice, in either spelling
    /// (<c>bücher.example</c> beside <c>xn--bcher-kva.example</c>), so the first key configured is the only one.
    /// </summary>
    private static Dictionary<string, DkimSigner> Load(DeliveryOptions options)
    {
        var signers = new Dictionary<string, DkimSigner>(StringComparer.Ordinal);
        foreach (var key in options.Dkim)
        {
            var domain = DomainNames.ToAscii(key.Domain);
            if (!signers.ContainsKey(domain))
            {
                signers[domain] = CreateSigner(key);
            }
        }

        return signers;
    }
}
