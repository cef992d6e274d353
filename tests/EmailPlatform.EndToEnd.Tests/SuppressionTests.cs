using EmailPlatform.Testing;
using SmtpServer.Protocol;

namespace EmailPlatform.EndToEnd.Tests;

/// <summary>A hard bounce suppresses the address, and the next send to it is suppressed without any SMTP for it.</summary>
public sealed class SuppressionTests
{
    private static readonly TimeSpan Bounded = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task HardBounceSuppressesTheAddressAndTheNextSendSkipsIt()
    {
        await using var relay = await ScriptedSmtpServer.StartAsync();
        relay.RcptReplies["gone@example.test"] = new SmtpResponse(SmtpReplyCode.MailboxUnavailable, "5.1.1 No such user here");
        await using var platform = await DistributedPlatform.StartAsync("127.0.0.1", relay.Port);
        using var client = platform.CreateClient();

        var first = await EmailApi.SendAsync(client, new { from = "noreply@acme.test", to = "gone@example.test", subject = "First", text = "Hi." });
        var bounced = await EmailApi.WaitForFinalStateAsync(client, first, Bounded);
        Assert.True(bounced!["status"]!.GetValue<string>() == "bounced", platform.Logs);
        await Eventually.GetAsync(
            async () => (await client.GetAsync(new Uri("/v1/suppressions/gone@example.test", UriKind.Relative))).IsSuccessStatusCode,
            found => found, Bounded, "the address to be suppressed");

        var second = await EmailApi.SendAsync(client, new
        {
            from = "noreply@acme.test",
            to = new[] { "gone@example.test", "alice@example.test" },
            subject = "Second",
            text = "Hi again.",
        });
        var email = await EmailApi.WaitForFinalStateAsync(client, second, Bounded);

        var recipients = email!["recipients"]!.AsArray().ToDictionary(r => r!["email"]!.GetValue<string>());
        Assert.True(recipients["gone@example.test"]!["status"]!.GetValue<string>() == "suppressed", platform.Logs);
        Assert.Equal("delivered", recipients["alice@example.test"]!["status"]!.GetValue<string>());
        Assert.Contains(email["events"]!.AsArray(), e => e!["type"]!.GetValue<string>() == "email.suppressed");
        var received = Assert.Single(relay.Received);
        Assert.Equal(["alice@example.test"], received.RcptTo);
    }
}
