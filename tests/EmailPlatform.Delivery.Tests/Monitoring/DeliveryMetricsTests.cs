using System.Diagnostics.Metrics;
using EmailPlatform.Contracts;
using EmailPlatform.Delivery.Tests.Suppressions;
using EmailPlatform.Delivery.Tests.Support;
using EmailPlatform.Delivery.Suppressions;
using EmailPlatform.Testing;
using Microsoft.Extensions.DependencyInjection;
using MimeKit;
using SmtpServer.Protocol;

namespace EmailPlatform.Delivery.Tests.Monitoring;

/// <summary>The worker's instruments (issue 6 §2) as a MeterListener reads them after real sends.</summary>
public sealed class DeliveryMetricsTests : IAsyncLifetime
{
    private ScriptedSmtpServer _relay = null!;

    public async Task InitializeAsync() => _relay = await ScriptedSmtpServer.StartAsync();

    public async Task DisposeAsync() => await _relay.DisposeAsync();

    [Fact]
    public async Task EveryOutcomeIsCountedWithRelayPriorityAndClass()
    {
        _relay.RcptReplies["busy@example.com"] = new SmtpResponse((SmtpReplyCode)451, "4.2.0 Mailbox busy");
        _relay.RcptReplies["nobody@example.com"] = new SmtpResponse((SmtpReplyCode)550, "5.1.1 User unknown");
        var suppressions = new FakeSuppressionList();
        suppressions.Suppressed["gone@example.com"] = "Hard bounce";
        await using var host = await DeliveryHost.StartAsync(_relay.Port, services: s => s.AddSingleton<ISuppressionList>(suppressions));
        using var metrics = new MetricsCollector(host.Services.GetRequiredService<IMeterFactory>());
        var email = TestEmails.Create(to: ["alice@example.com", "busy@example.com", "nobody@example.com", "gone@example.com"]) with
        {
            Priority = EmailPriority.High,
            AcceptedAt = DateTimeOffset.UtcNow.AddSeconds(-2),
        };
        var expired = TestEmails.Create(to: ["late@example.com"]) with { Priority = EmailPriority.Bulk, ExpiresAt = DateTimeOffset.UtcNow.AddMinutes(-1) };

        await host.SendAsync(email);
        await host.SendAsync(expired);
        // Each outcome is counted after its event is published, one recipient after the other: wait for the counts
        // themselves, not for some of the events.
        string[] instruments = ["delivered", "deferred", "bounced", "failed", "suppressed", "time_to_delivered"];
        await Eventually.GetAsync(
            () => Task.FromResult(string.Join(", ", instruments.Where(i => metrics.Of("emailplatform." + i).Count == 0))), uncounted => uncounted.Length == 0,
            TimeSpan.FromSeconds(60), "every outcome counted (the last seen lists those not yet)");

        var delivered = Assert.Single(metrics.Of("emailplatform.delivered"));
        Assert.Equal(("{recipient}", 1d, "scripted", "high"), (delivered.Unit, delivered.Value, delivered.Tags["emailplatform.relay"], delivered.Tags["emailplatform.priority"]));
        var deferred = Assert.Single(metrics.Of("emailplatform.deferred"));
        Assert.Equal(("scripted", "high", "4.2"), (deferred.Tags["emailplatform.relay"], deferred.Tags["emailplatform.priority"], deferred.Tags["emailplatform.enhanced_class"]));
        var bounced = Assert.Single(metrics.Of("emailplatform.bounced"));
        Assert.Equal(("scripted", "high", "5.1"), (bounced.Tags["emailplatform.relay"], bounced.Tags["emailplatform.priority"], bounced.Tags["emailplatform.enhanced_class"]));
        var failed = Assert.Single(metrics.Of("emailplatform.failed"));
        Assert.Equal(("bulk", "expired"), (failed.Tags["emailplatform.priority"], failed.Tags["emailplatform.reason"]));
        var suppressed = Assert.Single(metrics.Of("emailplatform.suppressed"));
        Assert.Equal("high", suppressed.Tags["emailplatform.priority"]);

        var timeToDelivered = Assert.Single(metrics.Of("emailplatform.time_to_delivered"));
        Assert.Equal(("s", "high"), (timeToDelivered.Unit, timeToDelivered.Tags["emailplatform.priority"]));
        Assert.InRange(timeToDelivered.Value, 2, 120);
        Assert.Contains(metrics.Of("emailplatform.smtp.attempt.duration"), m => m.Unit == "s" && m.Tags["emailplatform.relay"] == "scripted");

        var inUse = metrics.Of("emailplatform.relay.connections.in_use");
        Assert.Contains(inUse, m => m.Unit == "{connection}" && m.Tags["emailplatform.relay"] == "scripted" && m.Value == 0);
        Assert.Contains(metrics.Of("emailplatform.relay.breaker.state"), m => m.Unit == "{state}" && m.Tags["emailplatform.relay"] == "scripted" && m.Value == 0);

        // Read from the store at most every 10 s: the deferred recipient shows up at a later scrape.
        await Eventually.GetAsync(() => Task.FromResult(metrics.Of("emailplatform.retry.pending")), m => m.Any(p => p.Value == 1),
            TimeSpan.FromSeconds(60), "one pending retry");
        Assert.Empty(metrics.Of("emailplatform.queue.depth"));
    }

    [Fact]
    public async Task AScheduledEmailIsTimedAndDatedFromItsScheduledTimeAndOneSentAtOnceFromItsAcceptance()
    {
        await using var host = await DeliveryHost.StartAsync(_relay.Port);
        using var metrics = new MetricsCollector(host.Services.GetRequiredService<IMeterFactory>());
        var now = DateTimeOffset.UtcNow;
        // Accepted a day ago for a time that came 2 s ago, as the ingress hands it over once due; the other accepted 2 s
        // ago to be sent at once. The priorities tell their measurements apart.
        var scheduled = TestEmails.Create(to: ["later@example.com"]) with
        {
            Priority = EmailPriority.High,
            AcceptedAt = now.AddDays(-1),
            ScheduledAt = now.AddSeconds(-2),
        };
        var atOnce = TestEmails.Create(to: ["now@example.com"]) with { Priority = EmailPriority.Bulk, AcceptedAt = now.AddSeconds(-2) };

        await host.SendAsync(scheduled);
        await host.SendAsync(atOnce);
        var timed = await Eventually.GetAsync(() => Task.FromResult(metrics.Of("emailplatform.time_to_delivered")), m => m.Count == 2,
            TimeSpan.FromSeconds(60), "both deliveries timed");

        // Seconds from when each was due, not the day the scheduled one waited for its time.
        Assert.InRange(Assert.Single(timed, m => m.Tags["emailplatform.priority"] == "high").Value, 2, 120);
        Assert.InRange(Assert.Single(timed, m => m.Tags["emailplatform.priority"] == "bulk").Value, 2, 120);
        Assert.Equal(ToTheSecond(scheduled.ScheduledAt!.Value), DateAtTheRelay("later@example.com"));
        Assert.Equal(ToTheSecond(atOnce.AcceptedAt), DateAtTheRelay("now@example.com"));
    }

    [Fact]
    public async Task QueueDepthIsReadFromRabbitMqPerLane()
    {
        await using var worker = await RabbitMqWorker.StartAsync(_relay.Port);
        using var metrics = new MetricsCollector(worker.Services.GetRequiredService<IMeterFactory>());

        var depths = await Eventually.GetAsync(() => Task.FromResult(metrics.Of("emailplatform.queue.depth")),
            m => m.Select(d => d.Tags["emailplatform.lane"]).Distinct().Count() == 3, TimeSpan.FromSeconds(60), "a depth per lane");
        Assert.All(depths, d => Assert.Equal("{message}", d.Unit));
        Assert.Equal(["send-email-bulk", "send-email-high", "send-email-normal"], depths.Select(d => d.Tags["emailplatform.lane"]).Distinct().Order());
    }

    [Theory]
    [InlineData("5.1.1", 550, "5.1")]
    [InlineData("4.10.2", 451, "4.10")]
    [InlineData(null, 451, "4.0")]
    [InlineData(null, null, "none")]
    public void EnhancedClassIsTheClassAndSubject(string? enhanced, int? code, string expected) =>
        Assert.Equal(expected, DeliveryMetrics.EnhancedClass(enhanced, code));

    /// <summary>The <c>Date</c> of the message the relay received for <paramref name="recipient"/> (it has the second).</summary>
    private DateTimeOffset DateAtTheRelay(string recipient)
    {
        var received = Assert.Single(_relay.Received, m => m.RcptTo.Contains(recipient));
        using var message = MimeMessage.Load(new MemoryStream(received.Raw));
        return message.Date;
    }

    private static DateTimeOffset ToTheSecond(DateTimeOffset time) => new(time.UtcTicks - time.UtcTicks % TimeSpan.TicksPerSecond, TimeSpan.Zero);
}
