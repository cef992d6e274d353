using System.Diagnostics.Metrics;
using EmailPlatform.Contracts;
using EmailPlatform.Delivery.Storage;
using EmailPlatform.Delivery.Tests.Support;
using EmailPlatform.Testing;
using MassTransit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace EmailPlatform.Delivery.Tests.Monitoring;

/// <summary>
/// Each recipient's outcome is counted once (<c>emailplatform.delivered</c>, <c>.failed</c>, …), when the store commits
/// it: not lost with a publish that fails after the record, and not counted again when the consumer's retry, or a
/// redelivered command, publishes the recorded outcome once more.
/// </summary>
public sealed class OutcomeCountingTests : IAsyncLifetime
{
    private static readonly Dictionary<string, string?> ShortPublishTimeout = new() { ["Delivery:PublishTimeout"] = "00:00:01" };

    private ScriptedSmtpServer _relay = null!;

    public async Task InitializeAsync() => _relay = await ScriptedSmtpServer.StartAsync();

    public async Task DisposeAsync() => await _relay.DisposeAsync();

    [Fact]
    public async Task DeliveryWhosePublishFailedIsCountedOnceWhenTheRedeliveredCommandPublishesIt()
    {
        var email = TestEmails.Create();
        await using var host = await DeliveryHost.StartAsync(_relay.Port, settings: ShortPublishTimeout);
        using var metrics = new MetricsCollector(host.Services.GetRequiredService<IMeterFactory>());
        var unconfirmed = host.Harness.Bus.ConnectPublishObserver(new NeverConfirmed<EmailDelivered>());

        // The relay took the message and the delivery is recorded; the broker never confirms the outcome's publish.
        await Assert.ThrowsAsync<TimeoutException>(() => host.SendOnceAsync(email).WaitAsync(TimeSpan.FromSeconds(60)));

        unconfirmed.Disconnect();
        await host.SendAsync(email);

        await host.WaitForAsync<EmailDelivered>(d => d.Count == 1, "the recorded outcome published");
        var delivered = await Eventually.GetAsync(() => Task.FromResult(metrics.Of("emailplatform.delivered")), d => d.Count > 0,
            TimeSpan.FromSeconds(60), "the delivery counted");
        Assert.Equal(1, delivered.Sum(d => d.Value));
        Assert.Single(_relay.Received);
    }

    [Fact]
    public async Task FaultWhosePublishFailedCountsItsFailedRecipientsOnce()
    {
        var email = TestEmails.Create(to: ["alice@example.com", "bob@example.com"]);
        await using var host = await DeliveryHost.StartAsync(_relay.Port, settings: ShortPublishTimeout);
        using var metrics = new MetricsCollector(host.Services.GetRequiredService<IMeterFactory>());
        var unconfirmed = host.Harness.Bus.ConnectPublishObserver(new NeverConfirmed<EmailFailed>());

        // What the lane's endpoint publishes when the command outlived its retries. The failures are recorded, and the
        // broker does not confirm their publish until they are: the fault consumer's retry publishes them again.
        await PublishFaultAsync(host, email);
        await Eventually.GetAsync(
            () => host.QueryAsync(db => db.Deliveries.CountAsync(d => d.EmailId == email.EmailId && d.State == DeliveryState.Failed)),
            failed => failed == 2, TimeSpan.FromSeconds(60), "both recipients recorded failed");
        unconfirmed.Disconnect();

        var published = await host.WaitForAsync<EmailFailed>(f => f.Count >= 2, "the failures published");
        Assert.Equal(2, published.Select(f => f.EventId).Distinct().Count());
        var failed = metrics.Of("emailplatform.failed");
        Assert.Equal(2, failed.Sum(f => f.Value));
        Assert.All(failed, f => Assert.Equal("fault", f.Tags["emailplatform.reason"]));
        Assert.Empty(_relay.Received);
    }

    /// <summary>
    /// A deferral recorded but never published (the broker did not confirm it through all the consumer's retries): the
    /// fault that follows publishes it again, so the status service learns of it now and not at the next attempt,
    /// which may be hours away. The recipient stays deferred, waiting for its next attempt.
    /// </summary>
    [Fact]
    public async Task FaultAfterADeferralWhosePublishFailedPublishesTheDeferralAndFailsNothing()
    {
        var email = TestEmails.Create();
        _relay.DataReply = new SmtpServer.Protocol.SmtpResponse((SmtpServer.Protocol.SmtpReplyCode)451, "4.3.0 Try again later");
        await using var host = await DeliveryHost.StartAsync(_relay.Port, settings: ShortPublishTimeout);
        var unconfirmed = host.Harness.Bus.ConnectPublishObserver(new NeverConfirmed<EmailDeferred>());

        await Assert.ThrowsAsync<TimeoutException>(() => host.SendOnceAsync(email).WaitAsync(TimeSpan.FromSeconds(60)));
        unconfirmed.Disconnect();
        Assert.Empty(host.Published<EmailDeferred>());
        var record = await host.QueryAsync(db => db.Deliveries.AsNoTracking().SingleAsync(d => d.EmailId == email.EmailId));
        Assert.Equal(DeliveryState.Deferred, record.State);

        await PublishFaultAsync(host, email);

        var deferred = Assert.Single(await host.WaitForAsync<EmailDeferred>(d => d.Count >= 1, "the recorded deferral published"));
        Assert.Equal((record.OutcomeEventId, 1), (deferred.EventId, deferred.Attempt));
        Assert.NotNull(deferred.NextAttemptAt);
        Assert.Empty(host.Published<EmailFailed>());
        Assert.Equal(DeliveryState.Deferred, await host.QueryAsync(db => db.Deliveries.Where(d => d.EmailId == email.EmailId).Select(d => d.State).SingleAsync()));
    }

    private static Task PublishFaultAsync(DeliveryHost host, SendEmail email) =>
        host.Harness.Bus.Publish<Fault<SendEmail>>(new MassTransit.Events.FaultEvent<SendEmail>(
            email, NewId.NextGuid(), MassTransit.Metadata.HostMetadataCache.Host, new InvalidOperationException("Something no one expected."), []));
}
