using EmailPlatform.Contracts;
using EmailPlatform.Delivery.Tests.Support;
using EmailPlatform.ServiceDefaults.Messaging;
using EmailPlatform.Testing;
using MassTransit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace EmailPlatform.Delivery.Tests.Lanes;

/// <summary>The three priority lanes on a real RabbitMQ, PostgreSQL and SMTP relay.</summary>
public sealed class PriorityLaneTests : IAsyncLifetime
{
    private const int BulkBacklog = 1500;

    private ScriptedSmtpServer _relay = null!;

    public async Task InitializeAsync() => _relay = await ScriptedSmtpServer.StartAsync();

    public async Task DisposeAsync() => await _relay.DisposeAsync();

    [Fact]
    public async Task HighPriorityMailReachesTheRelayWhileABulkBacklogIsQueued()
    {
        // One connection to the relay, four bulk messages in flight: every high-priority email has to win the
        // connection from bulk messages already waiting for it.
        await using var worker = await RabbitMqWorker.StartAsync(_relay.Port, new Dictionary<string, string?>
        {
            ["Delivery:Relays:0:MaxConnections"] = "1",
            ["Delivery:Lanes:Bulk:ConcurrentMessageLimit"] = "4",
            ["Delivery:Lanes:Bulk:PrefetchCount"] = "16",
        });

        var bulk = Enumerable.Range(0, BulkBacklog).Select(i => Email(EmailPriority.Bulk, $"bulk-{i}@example.com")).ToList();
        foreach (var chunk in bulk.Chunk(100))
        {
            await Task.WhenAll(chunk.Select(worker.SendAsync));
        }

        await Eventually.GetAsync(() => Task.FromResult(_relay.Received.Count), n => n >= 20, TimeSpan.FromSeconds(60), "bulk mail flowing");
        var urgent = new[] { Email(EmailPriority.High, "reset-1@example.com"), Email(EmailPriority.High, "reset-2@example.com"), Email(EmailPriority.Normal, "receipt@example.com") };
        foreach (var email in urgent)
        {
            await worker.SendAsync(email);
        }

        var received = await Eventually.GetAsync(() => Task.FromResult(_relay.Received.ToList()),
            r => urgent.All(u => r.Any(m => m.RcptTo.Contains(u.Envelope.RcptTo[0]))), TimeSpan.FromSeconds(60), "the urgent mail");
        var bulkBeforeUrgent = received.Count(m => m.RcptTo[0].StartsWith("bulk-", StringComparison.Ordinal));
        Assert.True(bulkBeforeUrgent < BulkBacklog / 2,
            $"{bulkBeforeUrgent} of {BulkBacklog} bulk emails reached the relay before the high and normal ones: they queued behind the backlog.");

        // Each email reached the relay once; the backlog behind them is still queued.
        var recipients = _relay.Received.SelectMany(m => m.RcptTo).ToList();
        Assert.Equal(recipients.Count, recipients.Distinct().Count());
        Assert.True(recipients.Count < BulkBacklog + urgent.Length, "the bulk backlog had drained: the test proved nothing");
    }

    [Fact]
    public async Task LanesAreQuorumQueuesThatDoNotSubscribeToPublishedSendEmail()
    {
        await using var worker = await RabbitMqWorker.StartAsync(_relay.Port);

        var queues = await RabbitMqCtlAsync("list_queues", "-p", worker.VirtualHost.Name, "--quiet", "--no-table-headers", "name", "type");
        foreach (var lane in DeliveryLanes.All)
        {
            Assert.Contains(queues, line => line == $"{lane}\tquorum");
        }

        // Each lane's queue is fed by its own exchange only: a published SendEmail would otherwise go to all three.
        var bindings = await RabbitMqCtlAsync("list_bindings", "-p", worker.VirtualHost.Name, "--quiet", "--no-table-headers", "source_name", "destination_name");
        Assert.DoesNotContain(bindings, line => line.StartsWith("EmailPlatform.Contracts:SendEmail", StringComparison.Ordinal));
        foreach (var lane in DeliveryLanes.All)
        {
            Assert.Contains(bindings, line => line == $"{lane}\t{lane}");
        }
    }

    [Fact]
    public async Task SendIntoALaneNoWorkerHasBoundFailsInsteadOfBeingDropped()
    {
        await using var vhost = await TemporaryVirtualHost.CreateAsync();
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["ConnectionStrings:RabbitMq"] = vhost.Uri.ToString() });
        builder.AddMessageBus(_ => { });
        using var sender = builder.Build();
        await sender.StartAsync();
        try
        {
            var bus = sender.Services.GetRequiredService<IBus>();
            var email = Email(EmailPriority.High, "reset@example.com");

            // The ingress outbox keeps the row and tries again: nothing is lost before the first worker starts.
            await Assert.ThrowsAsync<MessageReturnedException>(() => DeliveryLanes.SendAsync(bus, email, CancellationToken.None));

            await using var worker = await RabbitMqWorker.StartAsync(_relay.Port, virtualHost: vhost);
            await DeliveryLanes.SendAsync(bus, email, CancellationToken.None);
            await Eventually.GetAsync(() => Task.FromResult(_relay.Received.Count), n => n == 1, TimeSpan.FromSeconds(60), "the email sent once a worker bound its lane");
        }
        finally
        {
            await sender.StopAsync();
        }
    }

    private static SendEmail Email(EmailPriority priority, string to) => TestEmails.Create(to: [to]) with { Priority = priority };

    private static async Task<List<string>> RabbitMqCtlAsync(params string[] args) =>
        (await Command.RunAsync("rabbitmqctl", args)).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList();
}
