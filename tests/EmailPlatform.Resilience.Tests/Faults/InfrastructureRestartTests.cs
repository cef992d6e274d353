using EmailPlatform.Resilience.Tests.Support;
using EmailPlatform.Testing;
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
    [Fact]
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
        // comes back, and its recorded outcome (or its live claim, while the first consume is still at it) stops a second
        // send. No worker dies: a transaction already begun finishes on its own deadline, not the consume's, and its
        // outcome is recorded in PostgreSQL, which does not need the broker. So the one duplicate window, a relay's 250
        // not yet recorded when its worker dies, never opens: none allowed.
        await run.SettleAsync("RabbitMQ restart", sender, allowedDuplicates: 0);
    }

    /// <summary>
    /// The broker stops confirming (a memory alarm: it no longer reads from publishing connections), the worker takes
    /// commands, sends them and waits for its outcomes' confirms, and then the broker is restarted, so the connection
    /// closes under those waits. The confirms never come: RabbitMQ.Client 7.2 leaves a confirm still awaited on a
    /// channel that is closed and disposed pending for ever. A consume waiting for it regardless never ends and keeps
    /// one of its lane's permits (the concurrency limit outlives the channel); with all of them kept, nothing in the lane
    /// is taken again. That is how a CI run left 239 of 300 emails queued: a plain restart hits it only when confirms are
    /// outstanding as the connection closes. UnconfirmedPublishTests in the Delivery tests prove the bound itself.
    /// </summary>
    [Fact]
    public async Task RabbitMqRestartedWhileOutcomesWaitForConfirmsLosesNothing()
    {
        await using var broker = await DedicatedRabbitMq.StartAsync();
        await using var run = await FaultRun.StartAsync(output, rabbitMq: broker.Uri, listQueues: broker.ListQueuesAsync);

        // The commands wait in their lane while the worker is away, so that it has work whenever the alarm (seconds of
        // rabbitmqctl) is in effect: every consume it then starts sends its message and waits for the outcome's confirm.
        await run.Stack.StopWorkerAsync(0, TimeSpan.FromSeconds(30));
        var sender = run.Send(FaultScale.Emails, FaultScale.Rate);
        await sender.Completion;
        await Eventually.GetAsync(() => OutboxRows.UnpublishedAsync(run.Stack), count => count == 0, FaultScale.Settle, "every command in its lane");
        await broker.BlockPublishersAsync();
        await run.Stack.StartWorkerAsync(0);
        await Eventually.GetAsync(() => Task.FromResult(run.Relay.ReceivedCount), count => count > 0, FaultScale.Settle, "the worker sending");
        await Task.Delay(FaultScale.Window / 3);
        output.WriteLine($"broker not confirming; {run.Relay.ReceivedCount} emails at the relay, {sender.Accepted.Count} accepted");

        await broker.StopAsync();
        await broker.StartAgainAsync();
        output.WriteLine("broker back (without the alarm)");

        // A relay's 250 whose outcome was not confirmed is recorded, so the redelivered command publishes it and sends
        // nothing: no duplicates here.
        await run.SettleAsync("RabbitMQ restarted with confirms pending", sender, allowedDuplicates: 0);
    }

    [Fact]
    public async Task PostgreSqlRestartedMidRunLosesNothing()
    {
        await using var store = await DedicatedPostgres.StartAsync();
        await using var run = await FaultRun.StartAsync(output, postgresAdmin: store.AdminConnectionString);
        var sender = run.Send(FaultScale.Emails, FaultScale.Rate);

        await run.Relay.ReceivedAsync(0.2, sender);
        var stopping = DateTime.UtcNow;
        await store.StopAsync();
        output.WriteLine($"PostgreSQL stopped with {run.Relay.ReceivedCount} emails at the relay, {sender.Accepted.Count} accepted");
        await Task.Delay(FaultScale.Window / 3);
        await store.StartAgainAsync();
        var back = DateTime.UtcNow;
        output.WriteLine($"PostgreSQL back; {sender.Accepted.Count} accepted so far");

        // Requests refused (503) while the store is down were never accepted; none may be refused before the stop began or
        // more than five seconds after the store was back (the pools' new connections). A worker that had the relay's 250
        // but could not record it keeps trying the record while its claim holds (30 s here, far longer than the outage),
        // so nothing is sent twice.
        await run.SettleAsync("PostgreSQL restart", sender, allowedDuplicates: 0, maxRefused: FaultScale.Emails);
        var outside = sender.RefusedAt.Where(at => at < stopping || at > back + TimeSpan.FromSeconds(5)).ToList();
        Assert.True(outside.Count == 0,
            $"{outside.Count} request(s) refused outside the outage ({stopping:O} to {back:O}): first at {outside.FirstOrDefault():O}");
    }
}
