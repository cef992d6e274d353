using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using EmailPlatform.Testing;
using SmtpServer.Protocol;

namespace EmailPlatform.EndToEnd.Tests;

/// <summary>
/// A hard bounce suppresses the address, and the next send to it is suppressed without any SMTP for it; an address that
/// must be escaped in a path is the same one for the ingress, the status service and the worker's lookup.
/// </summary>
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

    [Fact]
    public async Task AnAddressWithASlashOrAnEscapeInItsLocalPartIsSuppressedThroughTheIngressSkippedByTheWorkerAndLifted()
    {
        await using var relay = await ScriptedSmtpServer.StartAsync();
        await using var platform = await DistributedPlatform.StartAsync("127.0.0.1", relay.Port);
        using var client = platform.CreateClient();

        // "/" reaches the status service as %2F, which its server leaves encoded in the route value; "%41" is three
        // characters of the local part, which the ingress must not hand on as an escape of "A".
        string[] suppressed = ["sales/eu@example.test", "a%41b@example.test"];
        foreach (var address in suppressed)
        {
            using var put = await client.PutAsJsonAsync(Path(address), new { reason = "Asked to stop" });
            var body = await put.Content.ReadAsStringAsync();
            Assert.True(put.StatusCode == HttpStatusCode.OK, body);
            Assert.Equal(address, JsonNode.Parse(body)!["email"]!.GetValue<string>());
            using var get = await client.GetAsync(Path(address));
            Assert.True(get.StatusCode == HttpStatusCode.OK, await get.Content.ReadAsStringAsync());
        }

        var id = await EmailApi.SendAsync(client, new
        {
            from = "noreply@acme.test",
            to = new[] { suppressed[0], suppressed[1], "alice@example.test" },
            subject = "Escaped",
            text = "Hi.",
        });
        var email = await EmailApi.WaitForFinalStateAsync(client, id, Bounded);

        var recipients = email!["recipients"]!.AsArray().ToDictionary(r => r!["email"]!.GetValue<string>(), r => r!["status"]!.GetValue<string>());
        Assert.True(recipients[suppressed[0]] == "suppressed" && recipients[suppressed[1]] == "suppressed", $"{email.ToJsonString()}{Environment.NewLine}{platform.Logs}");
        Assert.Equal("delivered", recipients["alice@example.test"]);
        Assert.Equal(["alice@example.test"], Assert.Single(relay.Received).RcptTo);

        using (var delete = await client.DeleteAsync(Path(suppressed[0])))
        {
            Assert.Equal(HttpStatusCode.NoContent, delete.StatusCode);
        }

        using var lifted = await client.GetAsync(Path(suppressed[0]));
        Assert.Equal(HttpStatusCode.NotFound, lifted.StatusCode);
    }

    /// <summary>The address's route, escaped as the delivery worker escapes it for its lookup.</summary>
    private static Uri Path(string address) => new($"/v1/suppressions/{Uri.EscapeDataString(address)}", UriKind.Relative);
}
