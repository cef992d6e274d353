using System.Text;
using EmailPlatform.Testing;
using SmtpServer.Protocol;

namespace EmailPlatform.EndToEnd.Tests;

/// <summary>
/// What the services write to their logs, at the Debug level an operator turns on to chase a problem, carries nothing of
/// an email's content (subject, text, HTML, attachments), nor its recipients' addresses, nor the API key it was sent with:
/// logs go to shared aggregators that a data-protection erasure never reaches.
/// </summary>
public sealed class LogPrivacyTests
{
    private static readonly TimeSpan Bounded = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task DebugLogsOfAnEmailDeliveredAndBouncedCarryNoneOfItsContentAddressesNorTheKey()
    {
        await using var relay = await ScriptedSmtpServer.StartAsync();
        relay.RcptReplies["gone@example.test"] = new SmtpResponse((SmtpReplyCode)550, "5.1.1 No such user");
        var debug = new Dictionary<string, string?> { ["Logging__LogLevel__Default"] = "Debug" };
        await using var platform = await DistributedPlatform.StartAsync("127.0.0.1", relay.Port, ingress: debug, status: debug, delivery: debug);
        using var client = platform.CreateClient();
        var marker = $"m{Guid.NewGuid():N}";
        var attachment = Convert.ToBase64String(Encoding.UTF8.GetBytes($"Statement {marker}-attachment, {new string('x', 200)}"));

        var id = await EmailApi.SendAsync(client, new
        {
            from = "noreply@acme.test",
            to = new[] { "reader@example.test", "gone@example.test" },
            subject = $"Subject {marker}-subject",
            text = $"Text {marker}-text",
            html = $"<p>HTML {marker}-html</p>",
            attachments = new[] { new { filename = "statement.txt", content = attachment, content_type = "text/plain" } },
        });
        var email = await platform.WithLogsAsync(() => EmailApi.WaitForFinalStateAsync(client, id, Bounded));
        Assert.Equal("bounced", email!["status"]!.GetValue<string>());
        Assert.Single(relay.Received);

        foreach (var service in new[] { platform.Ingress, platform.Delivery, platform.Status })
        {
            var output = service.Output;
            // The output keeps its last 2,000 lines: a log cut short could hide what it wrote first.
            Assert.True(output.Split('\n').Length < 2000, $"{service.Name} wrote too much to check it all");
            Assert.Contains("dbug: ", output, StringComparison.Ordinal);
            Assert.DoesNotContain(marker, output, StringComparison.Ordinal);
            Assert.DoesNotContain(attachment[..40], output, StringComparison.Ordinal);
            Assert.DoesNotContain(platform.ApiKey, output, StringComparison.Ordinal);
            Assert.DoesNotContain("reader@example.test", output, StringComparison.OrdinalIgnoreCase);
            Assert.DoesNotContain("gone@example.test", output, StringComparison.OrdinalIgnoreCase);
        }
    }
}
