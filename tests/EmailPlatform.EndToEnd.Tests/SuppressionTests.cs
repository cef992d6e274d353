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

    /// <summary>
    /// The workers' cache and filter on, as in production (a short cache duration, so the filter is refreshed every 2 s):
    /// once the worker has the status service's filter, of twenty new addresses and one suppressed, only the suppressed
    /// one is asked about at the status service (its requests counted from its own metrics), and it is still skipped.
    /// </summary>
    [Fact]
    public async Task WithTheStatusServicesFilterOnlyTheSuppressedAddressIsAskedAboutAndItIsSkipped()
    {
        await using var relay = await ScriptedSmtpServer.StartAsync();
        await using var platform = await DistributedPlatform.StartAsync("127.0.0.1", relay.Port,
            delivery: new Dictionary<string, string?> { ["Delivery__SuppressionCacheDuration"] = "00:00:08" });
        using var client = platform.CreateClient();
        using (var put = await client.PutAsJsonAsync(new Uri("/v1/suppressions/gone@example.test", UriKind.Relative), new { reason = "Asked to stop" }))
        {
            Assert.True(put.StatusCode == HttpStatusCode.OK, await put.Content.ReadAsStringAsync());
        }

        // The first lookup (asked at the status service: no filter yet) starts the download of a filter built after the PUT.
        var warmUp = await EmailApi.SendAsync(client, new { from = "noreply@acme.test", to = "first@example.test", subject = "First", text = "Hi." });
        Assert.Equal("delivered", (await EmailApi.WaitForFinalStateAsync(client, warmUp, Bounded))!["status"]!.GetValue<string>());
        // The status service has served the filter (then the worker reads it, a moment's work): a fixed wait alone was
        // too short on a loaded machine, and every address was asked about.
        await Eventually.GetAsync(() => RequestsAsync(platform, "/v1/suppressions/filter"), count => count >= 1, Bounded, "the filter served to the worker");
        await Task.Delay(TimeSpan.FromSeconds(1));
        var before = await RequestsAsync(platform, AddressRoute);

        var id = await EmailApi.SendAsync(client, new
        {
            from = "noreply@acme.test",
            to = Enumerable.Range(0, 20).Select(i => $"reader{i}@example.test").Append("gone@example.test").ToArray(),
            subject = "Second",
            text = "Hi again.",
        });
        var email = await EmailApi.WaitForFinalStateAsync(client, id, Bounded);

        var recipients = email!["recipients"]!.AsArray().ToDictionary(r => r!["email"]!.GetValue<string>(), r => r!["status"]!.GetValue<string>());
        Assert.True(recipients["gone@example.test"] == "suppressed", $"{email.ToJsonString()}{Environment.NewLine}{platform.Logs}");
        Assert.All(recipients.Where(r => r.Key != "gone@example.test"), r => Assert.Equal("delivered", r.Value));
        Assert.DoesNotContain("gone@example.test", relay.Received.SelectMany(m => m.RcptTo));

        // The suppressed address, and at most a false positive or two of the filter among the twenty (one in 120 each).
        var asked = await RequestsAsync(platform, AddressRoute) - before;
        Assert.True(asked is >= 1 and <= 3, $"{asked} lookups at the status service for 21 addresses{Environment.NewLine}{platform.Logs}");
    }

    private const string AddressRoute = "/v1/suppressions/{address}";

    /// <summary>The status service's count of requests to <paramref name="route"/>, from its Prometheus metrics.</summary>
    private static async Task<double> RequestsAsync(DistributedPlatform platform, string route)
    {
        using var http = new HttpClient { BaseAddress = platform.Status.Url };
        var text = await http.GetStringAsync(new Uri("/metrics", UriKind.Relative));
        return text.Split('\n')
            .Where(line => line.StartsWith("http_server_request_duration_seconds_count{", StringComparison.Ordinal)
                && line.Contains($"http_route=\"{route}\"", StringComparison.Ordinal))
            .Sum(line => double.Parse(line[(line.LastIndexOf('}') + 1)..].Trim().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture));
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
