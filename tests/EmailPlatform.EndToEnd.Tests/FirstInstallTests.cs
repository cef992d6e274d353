using EmailPlatform.Testing;

namespace EmailPlatform.EndToEnd.Tests;

/// <summary>
/// A first install, where the ingress and the workers are up before the status service's first replica: RabbitMQ drops
/// a published message that no queue is bound for, and the status service is the one subscriber of the events they
/// publish. Its <c>migrate</c> step (the chart's migrations Job, docker compose) declares its queues and binds them, so
/// the events of the emails sent meanwhile wait there for it.
/// </summary>
public sealed class FirstInstallTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task AnEmailSentAndDeliveredBeforeTheStatusServiceFirstStartsIsRecordedOnceItDoes()
    {
        await using var relay = await ScriptedSmtpServer.StartAsync();
        await using var platform = await DistributedPlatform.StartAsync("127.0.0.1", relay.Port, withoutStatus: true);
        using var client = platform.CreateClient();

        var id = await EmailApi.SendAsync(client, new
        {
            from = "noreply@acme.test",
            to = new[] { "alice@example.test" },
            subject = "Before the status service",
            text = "Sent on a first install.",
        });

        // The email's accept and its delivery are both waiting for the status service: published before it ever ran.
        await platform.WithLogsAsync(() => Eventually.GetAsync(() => PutBackProbe.MessagesInAsync(platform.Broker, "email-lifecycle"), n => n >= 1, Timeout,
            "the email's acceptance queued for the status service"));
        await platform.WithLogsAsync(() => Eventually.GetAsync(() => PutBackProbe.MessagesInAsync(platform.Broker, "recipient-outcome"), n => n >= 1, Timeout,
            "the recipient's delivery queued for the status service"));
        Assert.Single(relay.Received);

        await platform.StartStatusAsync();
        using var status = platform.CreateStatusClient();

        var email = await platform.WithLogsAsync(() => EmailApi.WaitForFinalStateAsync(status, id, Timeout));
        Assert.Equal("delivered", email!["status"]!.GetValue<string>());
        var recipient = Assert.Single(email["recipients"]!.AsArray());
        Assert.Equal(("alice@example.test", "delivered"), (recipient!["email"]!.GetValue<string>(), recipient["status"]!.GetValue<string>()));
    }
}
