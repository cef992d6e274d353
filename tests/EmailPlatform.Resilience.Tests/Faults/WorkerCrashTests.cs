using EmailPlatform.Resilience.Tests.Support;
using Npgsql;
using Xunit.Abstractions;

namespace EmailPlatform.Resilience.Tests.Faults;

/// <summary>Delivery workers killed with SIGKILL in the middle of a run, while a second worker keeps going.</summary>
[Trait("Category", "Fault")]
public sealed class WorkerCrashTests(ITestOutputHelper output)
{
    [Fact]
    public async Task WorkerKilledThreeTimesMidRunLosesNothingAndTheSecondWorkerFinishes()
    {
        await using var run = await FaultRun.StartAsync(output, workers: 2);

        // The relay takes a tenth of a second to answer each final dot, as a real one can: each worker has transactions in
        // flight nearly all the time, so every kill cuts some off (without it, the relay answered so fast that a kill
        // usually found the worker between messages, and the takeover was never tested).
        run.Relay.Server!.BeforeDataReply = () => Task.Delay(TimeSpan.FromMilliseconds(100));
        var sender = run.Send(FaultScale.Emails, FaultScale.Rate);

        var pendingAtKills = new List<int>();
        for (var kill = 1; kill <= 3; kill++)
        {
            // Kill while the relay is receiving, so transactions are cut off mid-flight.
            await run.Relay.ReceivedAsync(kill / 5.0, sender);
            var atRelay = run.Relay.ReceivedCount;
            await run.Stack.KillWorkerAsync(0);
            pendingAtKills.Add(FaultScale.Emails - atRelay);
            output.WriteLine($"killed worker 0 ({kill} of 3) with {atRelay} of {FaultScale.Emails} emails at the relay");
            if (kill < 3)
            {
                // Back in the race, so that the next kill again cuts off transactions in flight.
                await run.Stack.StartWorkerAsync(0);
            }
        }

        // The only duplicates SMTP allows: a relay's 250 not yet recorded when the worker died, at most one per
        // connection (4) per kill. The killed worker's claims are taken over after Delivery:ClaimLease.
        await run.SettleAsync("worker kill -9 ×3", sender, allowedDuplicates: 3 * 4);
        Assert.True(pendingAtKills[0] > 0, "the first kill came after the run had ended: it tested nothing");
        Assert.True(run.Stack.Workers[0] is null && run.Stack.Workers[1] is not null, "worker 1 alone was to finish the run");
        var retried = await RetriedAsync(run);
        output.WriteLine($"recipients sent more than once by the workers' own count (claims taken over after a kill): {retried}");

        // Proof that the kills cut off work in flight, which is what the takeover is for: claims the dead worker held were
        // taken over after their lease and attempted again. Had every kill come between transactions, none would be.
        Assert.True(retried > 0, "no claim was taken over: no kill caught the worker with a message in hand");
    }

    private static async Task<long> RetriedAsync(FaultRun run)
    {
        await using var connection = new NpgsqlConnection(run.Stack.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT count(*) FROM deliveries WHERE attempt > 1", connection);
        return (long)(await command.ExecuteScalarAsync())!;
    }
}
