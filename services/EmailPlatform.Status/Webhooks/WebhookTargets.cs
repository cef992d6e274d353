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
            ? $"The host '{uri.Host}' resolves to a private, loopback or link-local address, which webhooks may not target."
            : null;
    }

    /// <summary>The connection step of the webhook HTTP client: resolve, refuse private addresses, connect.</summary>
    public static async ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, bool allowPrivate, CancellationToken cancellationToken)
    {
        var addresses = await ResolveAsync(context.DnsEndPoint.Host, cancellationToken);
        if (!allowPrivate && addresses.Any(IsPrivate))
        {
            throw new WebhookTargetRefusedException($"The host '{context.DnsEndPoint.Host}' resolves to a private, loopback or link-local address.");
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

    public static bool IsPrivate(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        if (IPAddress.IsLoopback(address) || address.Equals(IPAddress.Any) || address.Equals(IPAddress.IPv6Any))
        {
            return true;
        }

        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            var b = address.GetAddressBytes();
            return b[0] == 10 || b[0] == 0 || b[0] == 127
                || (b[0] == 172 && b[1] >= 16 && b[1] <= 31)
                || (b[0] == 192 && b[1] == 168)
                || (b[0] == 169 && b[1] == 254)
                || (b[0] == 100 && b[1] >= 64 && b[1] <= 127)
                || b[0] >= 224;
        }

        var bytes = address.GetAddressBytes();
        return address.IsIPv6LinkLocal || address.IsIPv6SiteLocal || address.IsIPv6Multicast
            || (bytes[0] & 0xFE) == 0xFC;
    }

    private static async Task<IPAddress[]> ResolveAsync(string host, CancellationToken cancellationToken) =>
        IPAddress.TryParse(host.Trim('[', ']'), out var literal) ? [literal] : await Dns.GetHostAddressesAsync(host, cancellationToken);
}

public sealed class WebhookTargetRefusedException(string message) : Exception(message);
