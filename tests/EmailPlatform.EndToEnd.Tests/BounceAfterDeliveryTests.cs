using System.Globalization;
using System.Text.Json.Nodes;
using EmailPlatform.Testing;
using SmtpServer.Protocol;

namespace EmailPlatform.EndToEnd.Tests;

/// <summary>
/// The whole way of a bounce that comes after the relay's 250, with a real Postfix as the relay: the worker hands the
/// email to Postfix (delivered), the recipient's server refuses it (550 5.1.1), Postfix writes its own delivery status
/// notification to the envelope sender, <c>bounces+&lt;id&gt;@bounce.acme.test</c> (<c>Ingress:ReturnPath</c>), and
/// delivers it to the status service's bounce listener, the MX of that domain: the recipient becomes bounced, with the
/// remote server's reply, and is suppressed.
/// </summary>
public sealed class BounceAfterDeliveryTests
{
    private static readonly TimeSpan Bounded = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task ABounceWrittenByPostfixAfterItTookTheMessageMakesTheRecipientBouncedAndSuppressed()
    {
        // The recipients' server: it refuses one mailbox and takes the other.
        await using var recipients = await ScriptedSmtpServer.StartAsync();
        recipients.RcptReplies["gone@example.test"] = new SmtpResponse(SmtpReplyCode.MailboxUnavailable, "5.1.1 <gone@example.test>: Recipient address rejected: User unknown");
        var listenerPort = ServiceProcess.FreeTcpPort();
        await using var postfix = await PostfixRelay.StartAsync(recipients.Port, new Dictionary<string, int>
        {
            ["example.test"] = recipients.Port,
            ["bounce.acme.test"] = listenerPort,
        });
        await using var platform = await DistributedPlatform.StartAsync("127.0.0.1", postfix.Port,
            ingress: new Dictionary<string, string?> { ["Ingress__ReturnPath"] = "bounces@bounce.acme.test" },
            status: new Dictionary<string, string?>
            {
                ["Status__BounceListener__Port"] = listenerPort.ToString(CultureInfo.InvariantCulture),
                ["Status__BounceListener__Address"] = "127.0.0.1",
                ["Status__BounceListener__Domains__0"] = "bounce.acme.test",
            });
        using var client = platform.CreateClient();

        var id = await EmailApi.SendAsync(client, new
        {
            from = "Acme <noreply@acme.test>", to = new[] { "gone@example.test", "ann@example.test" }, subject = "Your receipt", text = "Thanks.",
        });

        var email = await Eventually.GetAsync(
            async () => JsonNode.Parse(await client.GetStringAsync(new Uri($"/v1/emails/{id}", UriKind.Relative))),
            e => e?["status"]?.GetValue<string>() == "bounced", Bounded, $"email {id} to be bounced{Environment.NewLine}{postfix.Log}{Environment.NewLine}{platform.Logs}");

        var byAddress = email!["recipients"]!.AsArray().ToDictionary(r => r!["email"]!.GetValue<string>());
        Assert.Equal("delivered", byAddress["ann@example.test"]!["status"]!.GetValue<string>());
        var gone = byAddress["gone@example.test"]!;
        Assert.Equal("bounced", gone["status"]!.GetValue<string>());
        Assert.Equal(550, gone["last_reply"]!["code"]!.GetValue<int>());
        Assert.Equal("5.1.1", gone["last_reply"]!["enhanced_code"]!.GetValue<string>());
        Assert.Contains("User unknown", gone["last_reply"]!["text"]!.GetValue<string>(), StringComparison.Ordinal);
        var bounce = Assert.Single(email["events"]!.AsArray(), e => e!["type"]!.GetValue<string>() == "email.bounced");
        Assert.Equal(("gone@example.test", "relay.test"), (bounce!["recipient"]!.GetValue<string>(), bounce["relay"]!.GetValue<string>()));

        // Postfix took the message for both and sent the bounce to the envelope sender that names this email.
        Assert.Contains($"from=<bounces+{Guid.Parse(id):N}@bounce.acme.test>", postfix.Log, StringComparison.Ordinal);
        Assert.Equal(["ann@example.test"], recipients.Received.SelectMany(m => m.RcptTo));
        await Eventually.GetAsync(
            async () => (await client.GetAsync(new Uri("/v1/suppressions/gone@example.test", UriKind.Relative))).IsSuccessStatusCode,
            found => found, Bounded, "the address to be suppressed");
    }
}
