using System.Net;
using System.Net.Sockets;
using EmailPlatform.Delivery.Relays;
using EmailPlatform.Delivery.Smtp;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace EmailPlatform.Delivery.Tests.Support;

internal static class TestRelays
{
    public static RelayOptions Local(int port, RelaySecurity security = RelaySecurity.Auto) =>
        new() { Name = "scripted", Host = "127.0.0.1", Port = port, Security = security };

    public static SmtpRelayClient Client(DeliveryOptions? options = null)
    {
        var settings = Options.Create(options ?? new DeliveryOptions { ConnectTimeout = TimeSpan.FromSeconds(10), CommandTimeout = TimeSpan.FromSeconds(10) });
        return new SmtpRelayClient(settings, Pools(settings.Value), Metrics(), NullLogger<SmtpRelayClient>.Instance);
    }

    public static SmtpConnectionPools Pools(DeliveryOptions options) =>
        new(Options.Create(options), TimeProvider.System, NullLogger<SmtpConnectionPools>.Instance);

    public static SmtpRelayClient Client(DeliveryOptions options, SmtpConnectionPools pools) =>
        new(Options.Create(options), pools, Metrics(), NullLogger<SmtpRelayClient>.Instance);

    public static DeliveryMetrics Metrics() =>
        new(new ServiceCollection().AddMetrics().BuildServiceProvider().GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>());

    /// <summary>A port nothing listens on: bound by the OS, then released.</summary>
    public static int UnusedPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }
}
