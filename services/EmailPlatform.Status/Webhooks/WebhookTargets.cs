using System.Net;
using System.Net.Sockets;

namespace EmailPlatform.Status.Webhooks;

/// <summary>
/// Server-side request forgery guard: a webhook may not reach private, loopback or link-local addresses unless
/// <see cref="WebhookOptions.AllowPrivateTargets"/> is set. Checked when a subscription is saved and again on
/// every connection, against the very addresses connected to (a DNS answer that changed is caught too).
/// </summary>
public static class WebhookTargets
{
    private const string HowToAllow =
        "For a receiver on your own network, set Webhooks:AllowPrivateTargets to true (environment Webhooks__AllowPrivateTargets=true).";

    /// <returns>Null when the URL is acceptable, otherwise why not.</returns>
    public static async Task<string?> ValidateAsync(string? url, bool allowPrivate, CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(url) || !Uri.TryCreate(url, UriKind.Absolute, out var uri)
            || (uri.Scheme != Uri.UriSchemeHttps && uri.Scheme != Uri.UriSchemeHttp) || url.Length > 2048)
        {
            return "url must be an absolute http or https URL of at most 2048 characters.";
        }

        if (!string.IsNullOrEmpty(uri.UserInfo))
        {
            return "url must not carry credentials.";
        }

        IPAddress[] addresses;
        try
        {
            addresses = await ResolveAsync(uri.IdnHost, cancellationToken);
        }
        catch (Exception ex) when (ex is SocketException or ArgumentException)
        {
            // ArgumentException: a name DNS cannot even ask for (longer than 255 characters).
            return $"The host '{uri.Host}' does not resolve.";
        }

        return !allowPrivate && addresses.Any(IsPrivate)
            ? $"The host '{uri.Host}' resolves to a private, loopback or link-local address, which webhooks may not target. {HowToAllow}"
            : null;
    }

    /// <summary>The connection step of the webhook HTTP client: resolve, refuse private addresses, connect.</summary>
    public static async ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, bool allowPrivate, CancellationToken cancellationToken)
    {
        var addresses = await ResolveAsync(context.DnsEndPoint.Host, cancellationToken);
        if (!allowPrivate && addresses.Any(IsPrivate))
        {
            throw new WebhookTargetRefusedException($"The host '{context.DnsEndPoint.Host}' resolves to a private, loopback or link-local address. {HowToAllow}");
        }

        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(addresses, context.DnsEndPoint.Port, cancellationToken);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Whether an address is private, loopback, link-local, shared (CGNAT), unspecified or multicast. An IPv6 address
    /// that carries an IPv4 one (IPv4-mapped, IPv4-translated, IPv4-compatible, 6to4, NAT64's well-known prefix) is
    /// judged by that IPv4 address, since a translator or tunnel on the way takes the connection there; NAT64's
    /// local-use prefix (RFC 8215) translates into a network of the operator's choosing and counts as private whole, and
    /// so does Teredo (<c>2001::/32</c>, RFC 4380), which tunnels to an IPv4 address it carries obfuscated: no webhook
    /// receiver needs it.
    /// </summary>
    public static bool IsPrivate(IPAddress address)
    {
        Span<byte> bytes = stackalloc byte[16];
        if (!address.TryWriteBytes(bytes, out var length))
        {
            throw new ArgumentException("Not an IPv4 or IPv6 address.", nameof(address));
        }

        if (length == 4)
        {
            return IsPrivateIPv4(bytes[..4]);
        }

        if (bytes.StartsWith(Nat64LocalUse) || bytes.StartsWith(Teredo))
        {
            return true;
        }

        if (EmbeddedIPv4(bytes) is { Length: 4 } embedded)
        {
            return IsPrivateIPv4(embedded);
        }

        return address.IsIPv6LinkLocal || address.IsIPv6SiteLocal || address.IsIPv6Multicast || (bytes[0] & 0xFE) == 0xFC;
    }

    private static bool IsPrivateIPv4(ReadOnlySpan<byte> b) =>
        b[0] == 10 || b[0] == 0 || b[0] == 127
        || (b[0] == 172 && b[1] >= 16 && b[1] <= 31)
        || (b[0] == 192 && b[1] == 168)
        || (b[0] == 169 && b[1] == 254)
        || (b[0] == 100 && b[1] >= 64 && b[1] <= 127)
        || b[0] >= 224;

    /// <returns>The IPv4 address an IPv6 address carries, or an empty span when it carries none.</returns>
    private static ReadOnlySpan<byte> EmbeddedIPv4(ReadOnlySpan<byte> bytes)
    {
        if (bytes.StartsWith(IPv4Mapped) || bytes.StartsWith(IPv4Translated) || bytes.StartsWith(IPv4Compatible) || bytes.StartsWith(Nat64WellKnown))
        {
            // ::ffff:0:0/96, ::ffff:0:0:0/96, ::/96 (which holds :: and ::1 too) and 64:ff9b::/96: the last 32 bits.
            return bytes[12..];
        }

        // 6to4, 2002::/16: the prefix is followed by the IPv4 address of the site's router, to which packets are tunnelled.
        return bytes[0] == 0x20 && bytes[1] == 0x02 ? bytes[2..6] : [];
    }

    private static ReadOnlySpan<byte> IPv4Mapped => [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF];

    private static ReadOnlySpan<byte> IPv4Translated => [0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0, 0];

    private static ReadOnlySpan<byte> IPv4Compatible => [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];

    private static ReadOnlySpan<byte> Nat64WellKnown => [0x00, 0x64, 0xFF, 0x9B, 0, 0, 0, 0, 0, 0, 0, 0];

    private static ReadOnlySpan<byte> Nat64LocalUse => [0x00, 0x64, 0xFF, 0x9B, 0x00, 0x01];

    private static ReadOnlySpan<byte> Teredo => [0x20, 0x01, 0x00, 0x00];

    private static async Task<IPAddress[]> ResolveAsync(string host, CancellationToken cancellationToken) =>
        IPAddress.TryParse(host.Trim('[', ']'), out var literal) ? [literal] : await Dns.GetHostAddressesAsync(host, cancellationToken);
}

public sealed class WebhookTargetRefusedException(string message) : Exception(message);
