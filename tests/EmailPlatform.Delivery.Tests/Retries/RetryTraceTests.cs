using System.Diagnostics;
using EmailPlatform.Contracts;
using EmailPlatform.Delivery.Retries;
using EmailPlatform.Delivery.Tests.Support;
using EmailPlatform.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using SmtpServer.Protocol;

namespace EmailPlatform.Delivery.Tests.Retries;

/// <summary>
/// The retry scheduler sends from a loop of its own, outside any trace: its hand-backs and the outcomes it publishes
/// join the email's trace through the <c>traceparent</c> kept with the command, on both stores.
/// </summary>
public sealed class RetryTraceTests : IAsyncLifetime
{
    private const string Alice = "alice@example.com";

    private const string SourceName = "EmailPlatform.Delivery.Tests";

    private static readonly ActivitySource Source = new(SourceName);

    private ScriptedSmtpServer _relay = null!;

    public async Task InitializeAsync() => _relay = await ScriptedSmtpServer.StartAsync();

    public async Task DisposeAsync() => await _relay.DisposeAsync();

    [Theory]
    [InlineData(TestStore.Sqlite)]
    [InlineData(TestStore.Postgres)]
    public async Task AttemptAfterADeferralIsInTheTraceOfTheFirst(TestStore store)
    {
        _relay.RcptReplies[Alice] = new SmtpResponse((SmtpReplyCode)451, "4.7.1 Greylisted, try again later");
        var email = TestEmails.Create(to: [Alice]);
        using var spans = new Spans();
        await using var host = await DeliveryHost.StartAsync(_relay.Port, store, new Dictionary<string, string?> { ["Delivery:RetrySchedule:0"] = "00:00:01" });

        var trace = await SendInATraceAsync(host, email);
        await host.WaitForAsync<EmailDeferred>(d => d.Count >= 1, "the deferral");
        _relay.RcptReplies.Clear();
        await host.WaitForAsync<EmailDelivered>(d => d.Count == 1, "the retry's delivery");

        var attempts = spans.Named("smtp send", email.EmailId);
        Assert.InRange(attempts.Count, 2, 3);
        Assert.All(attempts, a => Assert.Equal(trace, a.TraceId));
        // A hand-back's span ends once the scheduler's send has returned, which may be after the attempt it started.
        var handBacks = await spans.WaitForAsync("retry publish SendEmail", email.EmailId, attempts.Count - 1);
        Assert.All(handBacks, h => Assert.Equal((trace, ActivityKind.Producer), (h.TraceId, h.Kind)));
    }

    [Theory]
    [InlineData(TestStore.Sqlite)]
    [InlineData(TestStore.Postgres)]
    public async Task ExpiryTheSchedulerPublishesIsInTheTraceTheCommandWasKeptIn(TestStore store)
    {
        _relay.RcptReplies[Alice] = new SmtpResponse((SmtpReplyCode)451, "4.2.0 Mailbox busy");
        using var spans = new Spans();
        var clock = new AdvancingClock();
        await using var host = await DeliveryHost.StartAsync(_relay.Port, store, new Dictionary<string, string?> { ["Delivery:RetrySchedule:0"] = "01:00:00" },
            s => s.AddSingleton<TimeProvider>(clock));
        // The next attempt would be in an hour: the recipient is due at the email's deadline, when the scheduler fails it.
        // The deadline leaves the first attempt time to be made and recorded however busy the machine (else the worker
        // itself fails the email, at its claim or its record, and the scheduler has nothing to do: 12 s was not always
        // enough on the CI, and no wait is certain to be): half an hour, passed on the worker's clock once it is deferred.
        var email = TestEmails.Create(to: [Alice]) with { ExpiresAt = clock.GetUtcNow().AddMinutes(30) };

        var trace = await SendInATraceAsync(host, email);
        await host.WaitForAsync<EmailDeferred>(d => d.Count == 1, "the deferral");
        clock.Advance(TimeSpan.FromMinutes(31));
        // The scheduler sleeps on the system's time, until the deadline or its poll: it is woken as a deferral would.
        host.Services.GetRequiredService<RetrySignal>().Notify();
        await host.WaitForAsync<EmailFailed>(f => f.Count == 1, "the expiry");

        // The event is recorded as it is published; its span ends only once the scheduler's publish has returned.
        var published = Assert.Single(await spans.WaitForAsync("retry publish EmailFailed", email.EmailId, 1));
        Assert.Equal((trace, ActivityKind.Producer), (published.TraceId, published.Kind));
        var kept = await host.QueryAsync(db => db.RetryMessages.AsNoTracking().SingleAsync(m => m.EmailId == email.EmailId));
        Assert.Equal(trace, ActivityContext.Parse(kept.TraceParent!, null).TraceId);
    }

    /// <summary>Sends the command from a span of the test's, as the ingress's outbox publish does; returns its trace.</summary>
    private static async Task<ActivityTraceId> SendInATraceAsync(DeliveryHost host, SendEmail email)
    {
        using var activity = Source.StartActivity("outbox publish SendEmail", ActivityKind.Producer)!;
        await host.SendAsync(email);
        return activity.TraceId;
    }

    /// <summary>Every span of the worker, MassTransit and this test that ended while it listened.</summary>
    private sealed class Spans : IDisposable
    {
        private readonly SpanRecorder _recorder = new(["EmailPlatform.Delivery", "MassTransit", SourceName]);

        /// <summary>The email's spans of that name (tagged with its id), in the order they started.</summary>
        public List<Activity> Named(string name, Guid emailId) =>
            [.. _recorder.Stopped
                .Where(s => s.DisplayName == name && emailId.ToString() == s.GetTagItem("email.id")?.ToString())
                .OrderBy(s => s.StartTimeUtc)];

        /// <summary>Waits until at least <paramref name="count"/> of the email's spans of that name have ended; returns them all.</summary>
        public Task<List<Activity>> WaitForAsync(string name, Guid emailId, int count) =>
            Eventually.GetAsync(() => Task.FromResult(Named(name, emailId)), s => s.Count >= count, TimeSpan.FromSeconds(30), $"{count} '{name}' span(s) ended");

        public void Dispose() => _recorder.Dispose();
    }
}
