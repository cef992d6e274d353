using System.Net;
using System.Net.Sockets;
using EmailPlatform.Delivery.Relays;
using EmailPlatform.Delivery.Sending;
using EmailPlatform.Delivery.Tests.Support;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;

namespace EmailPlatform.Delivery.Tests.Relays;

/// <summary>
/// A send cancelled by the worker itself (shutdown, or the broker connection dropping under the consume) is not the
/// relay's failure: however many are cancelled, the relay's breaker stays closed and it keeps its traffic.
/// </summary>
public sealed class CancelledSendTests
{
    [Fact]
    public async Task SendsCancelledByTheWorkerDoNotOpenTheRelaysBreaker()
    {
        // A relay that takes the connection and never greets: each send waits in the connect until it is cancelled.
        using var silent = new TcpListener(IPAddress.Loopback, 0);
        silent.Start(backlog: 64);
        var port = ((IPEndPoint)silent.LocalEndpoint).Port;
        await using var host = await DeliveryHost.StartAsync(port, settings: new Dictionary<string, string?>
        {
            ["Delivery:BreakerFailureThreshold"] = "2",
            ["Delivery:ConnectTimeout"] = "00:00:30",
        });
        var router = host.Services.GetRequiredService<RelayRouter>();
        var relay = RelayRouter.Primary(host.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<DeliveryOptions>>().Value);

        for (var i = 0; i < 4; i++)
        {
            await using var scope = host.Services.CreateAsyncScope();
            var sender = scope.ServiceProvider.GetRequiredService<EmailSender>();
            using var shutdown = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
            await Assert.ThrowsAnyAsync<OperationCanceledException>(
                () => sender.SendAsync(TestEmails.Create(), host.Services.GetRequiredService<IBus>(), shutdown.Token));
        }

        Assert.Equal(BreakerState.Closed, router.BreakerState(relay));
    }
}
