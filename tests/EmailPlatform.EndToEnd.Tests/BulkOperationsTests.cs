using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using EmailPlatform.Testing;
using SmtpServer.Protocol;

namespace EmailPlatform.EndToEnd.Tests;

/// <summary>
/// Bulk operations in distributed mode, through the one base URL: the ingress forwards <c>/v1/bulk/*</c> to the
/// status service, which selects the emails and sends one <c>CancelEmail</c> each over RabbitMQ back to the ingress.
/// </summary>
public sealed class BulkOperationsTests
{
    private static readonly TimeSpan Bounded = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task BulkCancelCancelsTheScheduledEmailsAFilterSelectsAndADryRunCancelsNothing()
    {
        await using var relay = await ScriptedSmtpServer.StartAsync();
        await using var platform = await DistributedPlatform.StartAsync("127.0.0.1", relay.Port);
        using var client = platform.CreateClient();
        var later = DateTimeOffset.UtcNow.AddHours(1);
        var spring = new[] { await EmailApi.SendAsync(client, Email("Spring 1", later, "spring")), await EmailApi.SendAsync(client, Email("Spring 2", later, "spring")) };
        var autumn = await EmailApi.SendAsync(client, Email("Autumn", later, "autumn"));
        // The list is the status service's own view (a single email may be answered from the ingress's outbox before it
        // has arrived there), and the bulk operations select from that view.
        await platform.WithLogsAsync(() => Eventually.GetAsync(
            async () => JsonNode.Parse(await client.GetStringAsync(new Uri("/v1/emails?status=scheduled", UriKind.Relative)))!["data"]!.AsArray().Count,
            n => n == 3, Bounded, "the three emails scheduled in the status service"));

        var dryRun = await PostAsync(client, new { filter = new { tag = new[] { "campaign:spring" } }, dry_run = true });
        Assert.Equal((2, true), (dryRun["emails"]!.GetValue<int>(), dryRun["dry_run"]!.GetValue<bool>()));
        Assert.Equal(spring.Order(), dryRun["data"]!.AsArray().Select(i => i!["email_id"]!.GetValue<string>()).Order());

        var run = await PostAsync(client, new { filter = new { tag = new[] { "campaign:spring" }, status = "scheduled" } });
        Assert.Equal(2, run["emails"]!.GetValue<int>());

        foreach (var id in spring)
        {
            var canceled = await platform.WithLogsAsync(() => EmailApi.WaitForFinalStateAsync(client, id, Bounded));
            Assert.True(canceled!["status"]!.GetValue<string>() == "canceled", platform.Logs);
        }

        // Everything before it on the same path has been applied, and the other campaign was not touched.
        Assert.Equal("scheduled", (await EmailApi.GetAsync(client, autumn))!["status"]!.GetValue<string>());
        Assert.Equal(0, (await PostAsync(client, new { filter = new { tag = new[] { "campaign:spring" } }, dry_run = true }))["emails"]!.GetValue<int>());
    }

    [Fact]
    public async Task BulkRetryOfAFailedRecipientDeliversItOnceAndTheStatusShowsTheRetry()
    {
        await using var relay = await ScriptedSmtpServer.StartAsync();
        relay.RcptReplies["alice@example.test"] = new SmtpResponse((SmtpReplyCode)451, "4.2.0 Mailbox busy");
        await using var platform = await DistributedPlatform.StartAsync("127.0.0.1", relay.Port);
        using var client = platform.CreateClient();

        // Deferred by the relay until its own expires_at passes, then failed.
        var id = await EmailApi.SendAsync(client, new
        {
            from = "news@acme.test",
            to = "alice@example.test",
            subject = "Retry me",
            text = "A hello that fails first.",
            expires_at = DateTimeOffset.UtcNow.AddSeconds(4).ToString("O"),
            tags = new[] { new { name = "campaign", value = "retry" } },
        });
        var failed = await platform.WithLogsAsync(() => EmailApi.WaitForFinalStateAsync(client, id, Bounded));
        Assert.True(failed!["status"]!.GetValue<string>() == "failed", platform.Logs);
        var failedAttempt = failed["recipients"]!.AsArray().Single()!["attempts"]!.GetValue<int>();

        relay.RcptReplies.Clear();
        var run = await PostAsync(client, new { filter = new { tag = new[] { "campaign:retry" }, status = "failed" } }, "retry");
        Assert.Equal((1, 1), (run["emails"]!.GetValue<int>(), run["recipients"]!.GetValue<int>()));

        var delivered = await platform.WithLogsAsync(() => Eventually.GetAsync(
            () => EmailApi.GetAsync(client, id), e => e?["status"]?.GetValue<string>() == "delivered", Bounded, "the retried email delivered"));
        var alice = delivered!["recipients"]!.AsArray().Single()!;
        Assert.Equal("delivered", alice["status"]!.GetValue<string>());
        Assert.True(alice["attempts"]!.GetValue<int>() > failedAttempt, delivered.ToJsonString());
        Assert.Equal("delivered", delivered["last_event"]!.GetValue<string>());
        Assert.Single(relay.Received);
    }

    private static async Task<JsonNode> PostAsync(HttpClient client, object body, string operation = "cancel")
    {
        using var response = await client.PostAsJsonAsync(new Uri($"/v1/bulk/{operation}", UriKind.Relative), body);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{(int)response.StatusCode}: {text}");
        return JsonNode.Parse(text)!;
    }

    private static object Email(string subject, DateTimeOffset at, string campaign) => new
    {
        from = "news@acme.test",
        to = "alice@example.test",
        subject,
        text = "A scheduled hello.",
        scheduled_at = at.ToString("O"),
        tags = new[] { new { name = "campaign", value = campaign } },
    };
}
