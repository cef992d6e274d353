using EmailPlatform.Resilience.Tests.Support;
using SmtpServer.Protocol;
using Xunit.Abstractions;

namespace EmailPlatform.Resilience.Tests.Faults;

/// <summary>The upstream relay failing for a while: temporary refusals, then no connections at all.</summary>
[Trait("Category", "Fault")]
public sealed class RelayFaultTests(ITestOutputHelper output)
{
    [Fact]
    public async Task RelayAnswering421Then451ForAWhileDefersAndThenDeliversEverythingOnce()
    {
        await using var run = await FaultRun.StartAsync(output);
        var sender = run.Send(FaultScale.Emails, FaultScale.Rate);

        await run.Relay.ReceivedAsync(0.2, sender);
        var relay = run.Relay.Server!;
        relay.MailFromReply = new SmtpResponse((SmtpReplyCode)421, "4.3.2 Service shutting down, try later");
        await Task.Delay(FaultScale.Window / 2);
        relay.MailFromReply = null;
        relay.DataReply = new SmtpResponse((SmtpReplyCode)451, "4.3.0 Temporary local problem, try later");
        await Task.Delay(FaultScale.Window / 2);
        relay.DataReply = null;
        output.WriteLine($"relay answered 421/451 for {FaultScale.Window}; {sender.Accepted.Count} accepted so far");

        // A 451 after the data means the relay did not take the message: nothing may arrive twice.
        await run.SettleAsync("relay 421/451", sender, allowedDuplicates: 0, expectDeferrals: true);
    }

    [Fact]
    public async Task RelayRefusingConnectionsForAWhileDefersAndThenDeliversEverythingOnce()
    {
        await using var run = await FaultRun.StartAsync(output);
        var sender = run.Send(FaultScale.Emails, FaultScale.Rate);

        await run.Relay.ReceivedAsync(0.2, sender);
        await run.Relay.StopAsync();
        await Task.Delay(FaultScale.Window);
        await run.Relay.StartAgainAsync();
        output.WriteLine($"relay refused connections for {FaultScale.Window}; {sender.Accepted.Count} accepted so far");

        await run.SettleAsync("relay refusing connections", sender, allowedDuplicates: 0, expectDeferrals: true);
    }
}
