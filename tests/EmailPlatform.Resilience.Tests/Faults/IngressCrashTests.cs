using EmailPlatform.Resilience.Tests.Support;
using EmailPlatform.Testing;
using Xunit.Abstractions;

namespace EmailPlatform.Resilience.Tests.Faults;

/// <summary>
/// The ingress killed with SIGKILL while it holds accepted emails it has not published yet. A 202 means the email is in
/// the store (the ingress's outbox), so a crash a moment later must lose nothing: the rows the dead ingress had claimed
/// for publishing are taken over by the next one once their lease ends.
/// </summary>
[Trait("Category", "Fault")]
public sealed class IngressCrashTests(ITestOutputHelper output)
{
    [Fact]
    public async Task IngressKilledWhilePublishingLosesNoAcceptedEmail()
    {
        // A broker of the test's own, so that it can stop confirming without stalling every other test's.
        await using var broker = await DedicatedRabbitMq.StartAsync();
        await using var run = await FaultRun.StartAsync(output, rabbitMq: broker.Uri, listQueues: broker.ListQueuesAsync);

        // The broker stops confirming (a memory alarm) before the run, so the ingress's publishes wait with their rows
        // claimed: the kill finds accepted emails that are neither published nor free for another publisher to take
        // until their lease ends.
        await broker.BlockPublishersAsync();
        var sender = run.Send(FaultScale.Emails, FaultScale.Rate);
        await Eventually.GetAsync(() => Task.FromResult(sender.Accepted.Count), count => count >= FaultScale.Emails / 5, FaultScale.Settle, "a fifth of the run accepted");
        var claimed = await Eventually.GetAsync(
            () => OutboxRows.ClaimedUnpublishedAsync(run.Stack), count => count > 0, FaultScale.Settle, "the ingress publishing rows it cannot get confirmed");
        await run.Stack.StopIngressAsync(graceful: false);
        output.WriteLine($"ingress killed holding {claimed} claimed rows unpublished; {sender.Accepted.Count} accepted so far");

        await broker.UnblockPublishersAsync();
        await Task.Delay(FaultScale.Window / 3);
        await run.Stack.StartIngressAsync();
        output.WriteLine($"ingress back; {sender.Accepted.Count} accepted so far");

        // Requests sent while the ingress was away were refused (connection refused, or cut off by the kill) and were not
        // accepted. A command published but not marked published before the kill is published again by the next
        // ingress; the worker's claim and its recorded outcome keep that from a second send, so no duplicate is allowed.
        await run.SettleAsync("ingress kill -9", sender, allowedDuplicates: 0, maxRefused: FaultScale.Emails);
    }
}
