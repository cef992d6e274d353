using System.Net;
using System.Net.Sockets;
using EmailPlatform.Delivery.Smtp;

namespace EmailPlatform.Delivery.Tests.Smtp;

/// <summary>The worker's own TCP connections to relays: Nagle off, every address of the host tried.</summary>
public sealed class RelaySocketsTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task ConnectsWithNagleOffAndTriesEveryAddressOfTheHost()
    {
        // IPv4 only: where "localhost" names ::1 first, that address refuses and the next one is tried.
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var accepted = listener.AcceptSocketAsync();

        using var socket = await RelaySockets.ConnectAsync("localhost", port, CancellationToken.None).WaitAsync(Timeout);

        Assert.True(socket.Connected);
        Assert.True(socket.NoDelay);
        using var server = await accepted.WaitAsync(Timeout);
        Assert.Equal(((IPEndPoint)socket.LocalEndPoint!).Port, ((IPEndPoint)server.RemoteEndPoint!).Port);
    }

    [Fact]
    public async Task ARefusedConnectionThrowsTheSocketErrorTheConnectRetriesHandle()
    {
        using var closed = new TcpListener(IPAddress.Loopback, 0);
        closed.Start();
        var port = ((IPEndPoint)closed.LocalEndpoint).Port;
        closed.Stop();

        var error = await Assert.ThrowsAsync<SocketException>(() => RelaySockets.ConnectAsync("127.0.0.1", port, CancellationToken.None).WaitAsync(Timeout));

        Assert.Equal(SocketError.ConnectionRefused, error.SocketErrorCode);
    }
}
