using System.Net.Sockets;

namespace EmailPlatform.Delivery.Smtp;

/// <summary>
/// The TCP connection to a relay, made here rather than by MailKit so that Nagle's algorithm is off (<c>TCP_NODELAY</c>).
/// MailKit leaves it on, and writes a message's end (<c>CRLF . CRLF</c>, five bytes) apart from its body: the kernel then
/// holds those bytes until the relay acknowledges the body, which the relay delays (40 ms on Linux, up to 200 ms
/// elsewhere), so every message longer than a segment or so waited that long for its 250: at most 25 messages a second
/// on a connection, whatever the relay could take. Every SMTP command is written whole and then waits for its reply, so
/// there is nothing for Nagle to gather anyway.
/// </summary>
internal static class RelaySockets
{
    /// <summary>A connected socket to <paramref name="host"/> (each of its addresses in turn, IPv6 and IPv4), Nagle off.</summary>
    public static async Task<Socket> ConnectAsync(string host, int port, CancellationToken cancellationToken)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(host, port, cancellationToken);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }
}
