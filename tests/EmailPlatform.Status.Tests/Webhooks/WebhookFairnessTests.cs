using EmailPlatform.Status.Storage;
using EmailPlatform.Status.Tests.Support;
using EmailPlatform.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using static EmailPlatform.Status.Tests.Webhooks.WebhookTesting;

namespace EmailPlatform.Status.Tests.Webhooks;

/// <summary>
/// Trouble in one part of webhook sending stays there: housekeeping that fails does not stop due deliveries being sent.
/// </summary>
public sealed class WebhookFairnessTests
{
    private const string Bob = "bob@example.com";

    [Fact]
    public async Task HousekeepingThatFailsDoesNotStopDueDeliveriesFromBeingSent()
    {
        await using var receiver = await WebhookReceiver.StartAsync();

        // Housekeeping's two statements: the sweep of disabled subscriptions' pending deliveries, and the count of due ones.
        var housekeeping = new FailingCommands(sql => sql.Contains("webhook_deliveries", StringComparison.Ordinal)
            && (sql.Contains("'skipped'", StringComparison.Ordinal) || sql.Contains("count(*)", StringComparison.OrdinalIgnoreCase)));
        await using var api = await StatusApi.StartAsync(FastRetries(), services: s =>
            s.ConfigureDbContext<PostgresStatusDbContext>(o => o.AddInterceptors(housekeeping), ServiceLifetime.Singleton));
        using var client = api.CreateClient();
        await SubscribeAsync(client, receiver.Url, "email.delivered");
        await Eventually.GetAsync(() => Task.FromResult(housekeeping.Failures), n => n >= 1, TimeSpan.FromSeconds(10), "housekeeping to run and fail");

        var emailId = Guid.NewGuid();
        await api.RecordAsync(TestEvents.Accepted(emailId, to: [Bob]), TestEvents.Delivered(emailId, Bob));

        var requests = await ReceivedAsync(receiver, 1, "the delivery sent while housekeeping fails");
        Assert.Equal(200, Assert.Single(requests).Answered);
        Assert.True(housekeeping.Failures >= 1);
    }
}
