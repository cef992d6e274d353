using EmailPlatform.Resilience.Tests.Support;
using Xunit.Abstractions;

namespace EmailPlatform.Resilience.Tests.Faults;

/// <summary>The status service gone for a while: outcomes wait on the bus, delivery goes on.</summary>
[Trait("Category", "Fault")]
public sealed class StatusOutageTests(ITestOutputHelper output)
{
    [Fact]
    public async Task StatusServiceKilledForAWhileLosesNoOutcomeAndSendsNothingTwice()
    {
        await using var run = await FaultRun.StartAsync(output);
        var sender = run.Send(FaultScale.Emails, FaultScale.Rate);

        await run.Relay.ReceivedAsync(0.2, sender);
        await run.Stack.StopStatusAsync(graceful: false);
        await Task.Delay(FaultScale.Window);
        await run.Stack.StartStatusAsync();
        output.WriteLine($"status service away for {FaultScale.Window}; {sender.Accepted.Count} accepted so far");

        await run.SettleAsync("status service down", sender, allowedDuplicates: 0);
    }
}
