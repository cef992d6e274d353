using System.Net;
using System.Net.Sockets;
using EmailPlatform.Delivery.Sending;
using EmailPlatform.Delivery.Storage;
using EmailPlatform.Delivery.Tests.Support;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace EmailPlatform.Delivery.Tests.Claims;

/// <summary>What a worker stopping mid-send leaves behind: the claim handed back, the command kept, nothing sent.</summary>
public sealed class ShutdownTests
{
    [Fact]
    public async Task SendCancelledByShutdownHandsItsClaimBackForTheNextAttempt()
    {
        using var silent = new TcpListener(IPAddress.Loopback, 0);
        silent.Start();
        var email = TestEmails.Create();
        await using var host = await DeliveryHost.StartAsync(((IPEndPoint)silent.LocalEndpoint).Port);
        using var shutdown = new CancellationTokenSource();

        await using (var scope = host.Services.CreateAsyncScope())
        {
            var sender = scope.ServiceProvider.GetRequiredService<EmailSender>();
            var send = sender.SendAsync(email, host.Harness.Bus, shutdown.Token);

            // Connected, so claimed, and waiting for a greeting that never comes: now the shutdown begins.
            using var connection = await silent.AcceptTcpClientAsync().WaitAsync(TimeSpan.FromSeconds(30));
            await shutdown.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => send);
        }

        var record = await host.QueryAsync(db => db.Deliveries.SingleAsync(d => d.EmailId == email.EmailId));
        Assert.Equal((DeliveryState.Queued, 1, (Guid?)null), (record.State, record.Attempt, record.ClaimId));
        Assert.True(record.DueAt > DateTime.UtcNow.AddMinutes(10), "the hand-back waits for the redelivered command first");
        Assert.True(await host.QueryAsync(db => db.RetryMessages.AnyAsync(m => m.EmailId == email.EmailId)));
        Assert.Empty(host.Published<EmailPlatform.Contracts.EmailDeferred>());
    }
}
