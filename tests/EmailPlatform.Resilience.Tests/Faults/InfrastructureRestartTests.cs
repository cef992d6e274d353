using EmailPlatform.Resilience.Tests.Support;
using Xunit.Abstractions;

namespace EmailPlatform.Resilience.Tests.Faults;

/// <summary>
/// The broker and the store restarted in the middle of a run. Each test starts a RabbitMQ node or a PostgreSQL server
/// of its own on other ports and restarts that one: the shared ones serve every other test project running at the same
/// time, and restarting them would break those tests rather than test this platform.
/// </summary>
[Trait("Category", "Fault")]
public sealed class InfrastructureRestartTests(ITestOutputHelper output)
{
    [FullScaleFact("in one of three CI runs on 2026-11-28, 239 of 300 emails stayed queued for 3 minutes after the " +
        "broker came back; until that is understood this scenario is not a reliable CI gate (see the README's Fault tolerance).")]
    public async Task RabbitMqRestartedMidRunLosesNothing()
    {
        await using var broker = await DedicatedRabbitMq.StartAsync();
        await using var run = await FaultRun.StartAsync(output, rabbitMq: broker.Uri, listQueues: broker.ListQueuesAsync);
        var sender = run.Send(FaultScale.Emails, FaultScale.Rate);

        await run.Relay.ReceivedAsync(0.2, sender);
        await broker.StopAsync();
        output.WriteLine($"broker stopped with {run.Relay.ReceivedCount} emails at the relay, {sender.Accepted.Count} accepted");
        await Task.Delay(FaultScale.Window / 3);
        await broker.StartAgainAsync();
        output.WriteLine($"broker back; {sender.Accepted.Count} accepted so far");

        // The ingress keeps accepting into its outbox while the broker is away; a worker's unacknowledged message
        // comes back, and its recorded outcome stops a second send. A transaction cut off when the broker connection
        // drops (the relay has answered 250, the outcome is not recorded) is sent again: the documented window, at
        // most one per connection (4).
        var outcome = await run.SettleAsync("RabbitMQ restart", sender, allowedDuplicates: 4);
        Assert.True(outcome.Refused.Count == 0, $"the ingress refused requests while the broker was away: {outcome}");
    }

    [Fact]
    public async Task PostgreSqlRestartedMidRunLosesNothing()
    {
        await using var store = await DedicatedPostgres.StartAsync();
        await using var run = await FaultRun.StartAsync(output, postgresAdmin: store.AdminConnectionString);
        var sender = run.Send(FaultScale.Emails, FaultScale.Rate);

        await run.Relay.ReceivedAsync(0.2, sender);
        await store.StopAsync();
        output.WriteLine($"PostgreSQL stopped with {run.Relay.ReceivedCount} emails at the relay, {sender.Accepted.Count} accepted");
        await Task.Delay(FaultScale.Window / 3);
        await store.StartAgainAsync();
        output.WriteLine($"PostgreSQL back; {sender.Accepted.Count} accepted so far");

        // Requests refused with 503 while the store is down were never accepted. A worker that had the relay's 250 but
        // could not record it sends again after its claim lapses: at most one per connection (4), the documented window.
        await run.SettleAsync("PostgreSQL restart", sender, allowedDuplicates: 4);
    }
}
