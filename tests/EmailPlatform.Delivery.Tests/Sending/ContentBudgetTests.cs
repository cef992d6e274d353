using System.Diagnostics.Metrics;
using System.Security.Cryptography;
using EmailPlatform.Contracts;
using EmailPlatform.Delivery.Relays;
using EmailPlatform.Delivery.Sending;
using EmailPlatform.Delivery.Tests.Support;
using EmailPlatform.ServiceDefaults.Storage;
using EmailPlatform.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace EmailPlatform.Delivery.Tests.Sending;

/// <summary>
/// <see cref="ContentBudget"/>: the stored content of large emails a worker holds at once is bounded by
/// <c>Delivery:MaxContentBytesInFlight</c>, whatever the lanes' concurrency. An email waits for its share before its
/// content is loaded, in its lane's order, and one larger than the whole budget is sent alone.
/// </summary>
public sealed class ContentBudgetTests
{
    [Fact]
    public async Task EmailsThatFitTogetherAreAdmittedAtOnceAndTheNextWaitsForARelease()
    {
        var budget = Budget(100);
        var first = await budget.EnterAsync(60, EmailPriority.Normal, CancellationToken.None);
        using var second = await budget.EnterAsync(40, EmailPriority.Normal, CancellationToken.None);

        var third = budget.EnterAsync(10, EmailPriority.Normal, CancellationToken.None);

        Assert.False(third.IsCompleted);
        Assert.Equal((100, 1), (budget.InUse, budget.Waiting));
        first.Dispose();
        using var admitted = await third.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal((50, 0), (budget.InUse, budget.Waiting));
    }

    [Fact]
    public async Task EmailLargerThanTheWholeBudgetIsAdmittedAloneOnceNothingElseHoldsAny()
    {
        var budget = Budget(100);
        var small = await budget.EnterAsync(30, EmailPriority.Normal, CancellationToken.None);

        var large = budget.EnterAsync(250, EmailPriority.Normal, CancellationToken.None);
        // It would fit beside the first, but waits behind the large one: the large one is not starved by small ones.
        var behind = budget.EnterAsync(10, EmailPriority.Normal, CancellationToken.None);

        Assert.False(large.IsCompleted);
        Assert.False(behind.IsCompleted);
        small.Dispose();
        var alone = await large.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(250, budget.InUse);
        Assert.False(behind.IsCompleted);
        alone.Dispose();
        using var next = await behind.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(10, budget.InUse);
    }

    [Fact]
    public async Task WaiterOfAHigherLaneIsAdmittedFirst()
    {
        var budget = Budget(100);
        var held = await budget.EnterAsync(100, EmailPriority.Normal, CancellationToken.None);
        var bulk = budget.EnterAsync(60, EmailPriority.Bulk, CancellationToken.None);
        var high = budget.EnterAsync(60, EmailPriority.High, CancellationToken.None);

        held.Dispose();

        using var first = await high.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.False(bulk.IsCompleted);
        Assert.Equal((60, 1), (budget.InUse, budget.Waiting));
    }

    [Fact]
    public async Task CancelledWaiterHoldsNothingAndTheWaitersBehindItGoOn()
    {
        var budget = Budget(100);
        using var held = await budget.EnterAsync(50, EmailPriority.Normal, CancellationToken.None);
        using var shutdown = new CancellationTokenSource();
        var large = budget.EnterAsync(80, EmailPriority.Normal, shutdown.Token);
        var behind = budget.EnterAsync(20, EmailPriority.Normal, CancellationToken.None);
        Assert.False(behind.IsCompleted);

        await shutdown.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => large.WaitAsync(TimeSpan.FromSeconds(10)));
        using var next = await behind.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal((70, 0), (budget.InUse, budget.Waiting));
    }

    [Fact]
    public async Task LeaseDisposedTwiceIsGivenBackOnce()
    {
        var budget = Budget(100);
        var first = await budget.EnterAsync(30, EmailPriority.Normal, CancellationToken.None);
        using var second = await budget.EnterAsync(30, EmailPriority.Normal, CancellationToken.None);

        first.Dispose();
        first.Dispose();

        Assert.Equal(30, budget.InUse);
    }

    [Fact]
    public void BudgetBelowOneByteStopsTheWorkerAtStartNamingTheKey()
    {
        var options = new DeliveryOptions { Relays = [new() { Name = "a", Host = "smtp.a" }], MaxContentBytesInFlight = 0 };

        var failures = new DeliveryOptionsValidator().Validate(null, options).Failures!;

        Assert.Contains(failures, f => f.StartsWith("Delivery:MaxContentBytesInFlight must be at least 1", StringComparison.Ordinal));
    }

    /// <summary>
    /// Two emails each larger than the budget: while the relay holds the first one's transaction, the second has reached
    /// the worker and waits for the budget (the gauge says so) with its content not loaded and nothing claimed, though
    /// connections are free; it is sent once the first one's send is over.
    /// </summary>
    [Fact]
    public async Task WithASmallBudgetASecondLargeEmailIsNotLoadedWhileTheFirstIsBeingSent()
    {
        await using var relay = await ScriptedSmtpServer.StartAsync();
        var atFinalDot = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var transactions = 0;
        relay.BeforeDataReply = async () =>
        {
            if (Interlocked.Increment(ref transactions) == 1)
            {
                atFinalDot.TrySetResult();
                await release.Task.WaitAsync(TimeSpan.FromSeconds(120));
            }
        };
        var emails = Enumerable.Range(0, 2).Select(_ => TestEmails.Create(attachments:
            [new EmailAttachment("statement.pdf", "application/pdf", null, RandomNumberGenerator.GetBytes(2 * 1024 * 1024))])).ToList();
        var offloaded = emails.Select(e => StoredContents.Offload(e, inlineLimit: 0, DateTime.UtcNow, DateTime.UtcNow.AddDays(7))).ToList();
        var size = offloaded[0].Command.StoredContent!.Size;
        await using var host = await DeliveryHost.StartAsync(relay.Port, TestStore.Postgres, new Dictionary<string, string?>
        {
            // Each email is larger than the budget, so each is sent alone; four connections are free for both.
            ["Delivery:MaxContentBytesInFlight"] = "1048576",
            ["Delivery:Relays:0:MaxConnections"] = "4",
        });
        using var metrics = new MetricsCollector(host.Services.GetRequiredService<IMeterFactory>());
        await host.QueryAsync(async db =>
        {
            await ContentStoreTables.CreateAsync(db);
            db.Set<EmailContentRecord>().AddRange(offloaded.Select(o => o.Content!));
            return await db.SaveChangesAsync();
        });

        try
        {
            foreach (var (command, _) in offloaded)
            {
                await host.SendAsync(command);
            }

            await atFinalDot.Task.WaitAsync(TimeSpan.FromSeconds(60));
            await Eventually.GetAsync(() => Task.FromResult(Last(metrics, "emailplatform.content.waiting")), waiting => waiting == 1,
                TimeSpan.FromSeconds(60), "the second email waiting for the budget");

            Assert.Equal(1, Volatile.Read(ref transactions));
            Assert.Equal((double)size, Last(metrics, "emailplatform.content.in_flight"));
            var claimed = await host.QueryAsync(db => db.Deliveries.Select(d => d.EmailId).Distinct().ToListAsync());
            Assert.Single(claimed);
        }
        finally
        {
            release.TrySetResult();
        }

        var delivered = await host.WaitForAsync<EmailDelivered>(d => d.Count == 2, "both deliveries");
        Assert.Equal(emails.Select(e => e.EmailId).Order(), delivered.Select(d => d.EmailId).Order());
        Assert.Equal(2, relay.Received.Count);
        await Eventually.GetAsync(() => Task.FromResult(Last(metrics, "emailplatform.content.in_flight")), inUse => inUse == 0,
            TimeSpan.FromSeconds(60), "the budget given back");
    }

    private static ContentBudget Budget(long bytes) =>
        new(Options.Create(new DeliveryOptions { MaxContentBytesInFlight = bytes }));

    private static double Last(MetricsCollector metrics, string instrument) =>
        metrics.Of(instrument).LastOrDefault()?.Value ?? double.NaN;
}
