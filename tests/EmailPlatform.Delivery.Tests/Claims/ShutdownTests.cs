using System.Net;
using System.Net.Sockets;
using EmailPlatform.Delivery.Sending;
using EmailPlatform.Delivery.Storage;
using EmailPlatform.Delivery.Tests.Support;
using EmailPlatform.ServiceDefaults.Messaging;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

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

    [Fact]
    public async Task AttemptThatGetsItsConnectionOnlyAfterShutdownBeganSendsNothingAndHandsItsClaimBack()
    {
        await using var relay = await EmailPlatform.Testing.ScriptedSmtpServer.StartAsync();
        var firstInTransaction = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var releaseFirst = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        relay.BeforeDataReply = () =>
        {
            firstInTransaction.TrySetResult();
            return releaseFirst.Task;
        };
        var logs = new EmailPlatform.Testing.LogCapture();
        await using var host = await DeliveryHost.StartAsync(relay.Port, settings: new Dictionary<string, string?> { ["Delivery:Relays:0:MaxConnections"] = "1" },
            services: services => services.AddSingleton<ILoggerProvider>(logs));
        var (first, second) = (TestEmails.Create(), TestEmails.Create());
        using var consume = new CancellationTokenSource();

        await using var firstScope = host.Services.CreateAsyncScope();
        await using var secondScope = host.Services.CreateAsyncScope();
        var sendingFirst = firstScope.ServiceProvider.GetRequiredService<EmailSender>().SendAsync(first, host.Harness.Bus, CancellationToken.None);
        await firstInTransaction.Task.WaitAsync(TimeSpan.FromSeconds(30));
        var sendingSecond = secondScope.ServiceProvider.GetRequiredService<EmailSender>().SendAsync(second, host.Harness.Bus, consume.Token);
        await EmailPlatform.Testing.Eventually.GetAsync(
            () => host.QueryAsync(db => db.Deliveries.CountAsync(d => d.EmailId == second.EmailId)), n => n == 1, TimeSpan.FromSeconds(30),
            "the second claimed, waiting for the one connection");

        // SIGTERM: the first, in its transaction, finishes; the second gets the connection only now.
        host.Services.GetRequiredService<IHostApplicationLifetime>().StopApplication();
        releaseFirst.SetResult();
        await EmailPlatform.Testing.Eventually.GetAsync(
            () => host.QueryAsync(db => db.Deliveries.SingleAsync(d => d.EmailId == first.EmailId)), d => d.State == DeliveryState.Delivered,
            TimeSpan.FromSeconds(30), "the first recorded delivered");
        // The second has the connection now and stopped short of its transaction (HeldForShutdown): had it started one
        // instead, it would have been at the relay before this line.
        await EmailPlatform.Testing.Eventually.GetAsync<bool>(() => Task.FromResult(logs.Has(1008, second.EmailId.ToString())), held => held,
            TimeSpan.FromSeconds(30), "the second held back at its connection");
        Assert.Single(relay.Received);
        Assert.False(sendingSecond.IsCompleted);

        // MassTransit's stop timeout cancels the consume: the message goes back to its queue, the claim with it.
        await consume.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => sendingSecond.WaitAsync(TimeSpan.FromSeconds(30)));
        var record = await host.QueryAsync(db => db.Deliveries.SingleAsync(d => d.EmailId == second.EmailId));
        Assert.Equal((DeliveryState.Queued, (Guid?)null), (record.State, record.ClaimId));
        Assert.Single(relay.Received);
        await sendingFirst.WaitAsync(TimeSpan.FromSeconds(30));
    }

    [Fact]
    public async Task ConsumeCancelledWhileTheRelayHoldsTheFinalReplyRecordsAnUnknownOutcomeAndSendsNothingAgain()
    {
        // The consume is cancelled (MassTransit's stop timeout, or a dropped broker connection) while the relay has the
        // whole message and has not answered: the transaction was past MAIL FROM, so it ends on Delivery:DataTimeout and
        // its unknown outcome is recorded, as it would be without the cancellation; a redelivery then sends nothing.
        await using var relay = await EmailPlatform.Testing.ScriptedSmtpServer.StartAsync();
        using var consume = new CancellationTokenSource();
        relay.BeforeDataReply = async () =>
        {
            await consume.CancelAsync();
            await Task.Delay(TimeSpan.FromSeconds(3));
        };
        await using var host = await DeliveryHost.StartAsync(relay.Port, settings: new Dictionary<string, string?> { ["Delivery:DataTimeout"] = "00:00:01" });
        var email = TestEmails.Create();

        await using (var scope = host.Services.CreateAsyncScope())
        {
            await scope.ServiceProvider.GetRequiredService<EmailSender>().SendAsync(email, host.Harness.Bus, consume.Token)
                .WaitAsync(TimeSpan.FromSeconds(30));
        }

        Assert.True(consume.IsCancellationRequested);
        var record = await host.QueryAsync(db => db.Deliveries.SingleAsync(d => d.EmailId == email.EmailId));
        Assert.Equal((DeliveryState.Deferred, (Guid?)null), (record.State, record.ClaimId));
        Assert.StartsWith("Unknown outcome:", record.Reason, StringComparison.Ordinal);
        Assert.StartsWith("Unknown outcome:", Assert.Single(host.Published<EmailPlatform.Contracts.EmailDeferred>()).Reason, StringComparison.Ordinal);

        // The redelivered command finds the outcome recorded: it publishes it again and sends nothing.
        relay.BeforeDataReply = null;
        await using (var scope = host.Services.CreateAsyncScope())
        {
            await scope.ServiceProvider.GetRequiredService<EmailSender>().SendAsync(email, host.Harness.Bus, CancellationToken.None)
                .WaitAsync(TimeSpan.FromSeconds(30));
        }

        // The relay's copy of the first send lands once its script ends; there is no second one.
        await EmailPlatform.Testing.Eventually.GetAsync(() => Task.FromResult(relay.Received.Count), n => n >= 1, TimeSpan.FromSeconds(10), "the relay's copy");
        Assert.Single(relay.Received);
    }

    [Fact]
    public async Task WithoutABrokerAnAttemptThatGetsItsConnectionAfterShutdownBeganHandsItsClaimBackAtOnceAndEndsWithoutAFault()
    {
        await using var relay = await EmailPlatform.Testing.ScriptedSmtpServer.StartAsync();
        var firstInTransaction = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var releaseFirst = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        relay.BeforeDataReply = () =>
        {
            firstInTransaction.TrySetResult();
            return releaseFirst.Task;
        };
        await using var host = await DeliveryHost.StartAsync(relay.Port,
            settings: new Dictionary<string, string?> { ["Delivery:Relays:0:MaxConnections"] = "1" },
            services: s => s.AddSingleton(BusTransport.InMemory));
        var (first, second) = (TestEmails.Create(), TestEmails.Create());

        await using var firstScope = host.Services.CreateAsyncScope();
        await using var secondScope = host.Services.CreateAsyncScope();
        var sendingFirst = firstScope.ServiceProvider.GetRequiredService<EmailSender>().SendAsync(first, host.Harness.Bus, CancellationToken.None);
        await firstInTransaction.Task.WaitAsync(TimeSpan.FromSeconds(30));
        // A consume token that is never cancelled: the in-memory transport does not cancel what it runs while stopping.
        var sendingSecond = secondScope.ServiceProvider.GetRequiredService<EmailSender>().SendAsync(second, host.Harness.Bus, CancellationToken.None);
        await EmailPlatform.Testing.Eventually.GetAsync(
            () => host.QueryAsync(db => db.Deliveries.CountAsync(d => d.EmailId == second.EmailId)), n => n == 1, TimeSpan.FromSeconds(30),
            "the second claimed, waiting for the one connection");

        // SIGTERM: the first, in its transaction, finishes; the second gets the connection only now and does not wait.
        host.Services.GetRequiredService<IHostApplicationLifetime>().StopApplication();
        releaseFirst.SetResult();
        await sendingSecond.WaitAsync(TimeSpan.FromSeconds(30));
        await sendingFirst.WaitAsync(TimeSpan.FromSeconds(30));

        var record = await host.QueryAsync(db => db.Deliveries.SingleAsync(d => d.EmailId == second.EmailId));
        Assert.Equal((DeliveryState.Queued, (Guid?)null), (record.State, record.ClaimId));
        Assert.True(await host.QueryAsync(db => db.RetryMessages.AnyAsync(m => m.EmailId == second.EmailId)), "the command is kept for the next start");
        Assert.Equal(DeliveryState.Delivered, (await host.QueryAsync(db => db.Deliveries.SingleAsync(d => d.EmailId == first.EmailId))).State);
        Assert.Single(relay.Received);
        Assert.Empty(host.Published<EmailPlatform.Contracts.EmailFailed>());
    }

    [Fact]
    public async Task WithoutABrokerACommandThatArrivesAfterShutdownBeganClaimsNothing()
    {
        await using var relay = await EmailPlatform.Testing.ScriptedSmtpServer.StartAsync();
        await using var host = await DeliveryHost.StartAsync(relay.Port, services: s => s.AddSingleton(BusTransport.InMemory));
        var email = TestEmails.Create();

        host.Services.GetRequiredService<IHostApplicationLifetime>().StopApplication();
        await using (var scope = host.Services.CreateAsyncScope())
        {
            await scope.ServiceProvider.GetRequiredService<EmailSender>().SendAsync(email, host.Harness.Bus, CancellationToken.None)
                .WaitAsync(TimeSpan.FromSeconds(30));
        }

        Assert.False(await host.QueryAsync(db => db.Deliveries.AnyAsync(d => d.EmailId == email.EmailId)));
        Assert.Empty(relay.Received);
    }
}
