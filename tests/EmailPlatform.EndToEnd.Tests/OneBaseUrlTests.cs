using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using EmailPlatform.Testing;

namespace EmailPlatform.EndToEnd.Tests;

/// <summary>In distributed mode every <c>/v1</c> resource is served on the ingress's URL, with the caller's scopes checked there.</summary>
public sealed class OneBaseUrlTests
{
    [Fact]
    public async Task StatusResourcesAreReachableThroughTheIngressWithScopesChecked()
    {
        await using var relay = await ScriptedSmtpServer.StartAsync();
        await using var platform = await DistributedPlatform.StartAsync("127.0.0.1", relay.Port);
        using var admin = platform.CreateClient();

        using (var put = await admin.PutAsJsonAsync("/v1/suppressions/gone@example.test", new { reason = "asked to stop" }))
        {
            Assert.True(put.IsSuccessStatusCode, await put.Content.ReadAsStringAsync());
        }

        var suppression = JsonNode.Parse(await admin.GetStringAsync(new Uri("/v1/suppressions/gone@example.test", UriKind.Relative)))!;
        Assert.Equal("asked to stop", suppression["reason"]!.GetValue<string>());

        var id = await EmailApi.SendAsync(admin, new { from = "noreply@acme.test", to = "alice@example.test", subject = "Listed", text = "Hi." });
        var list = await Eventually.GetAsync(
            async () => JsonNode.Parse(await admin.GetStringAsync(new Uri("/v1/emails?limit=10", UriKind.Relative)))!,
            l => l["data"]!.AsArray().Any(e => e!["id"]!.GetValue<string>() == id), TimeSpan.FromSeconds(90), "the email in the list");
        Assert.Equal("list", list["object"]!.GetValue<string>());

        // A webhook to a loopback address is refused by the status service (no private targets here): its problem comes through.
        using (var webhook = await admin.PostAsJsonAsync("/v1/webhooks", new { url = "http://127.0.0.1:9/hook", events = new[] { "email.delivered" } }))
        {
            await ProblemAssert.IsProblemAsync(webhook, HttpStatusCode.BadRequest, "validation_error");
        }

        // A key that may only send is refused by the ingress itself.
        using var created = await admin.PostAsJsonAsync("/v1/api-keys", new { name = "sender", scopes = new[] { "send" } });
        var token = JsonNode.Parse(await created.Content.ReadAsStringAsync())!["token"]!.GetValue<string>();
        using var sender = platform.CreateClient();
        sender.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        using var forbidden = await sender.GetAsync(new Uri("/v1/webhooks", UriKind.Relative));
        await ProblemAssert.IsProblemAsync(forbidden, HttpStatusCode.Forbidden, "restricted_api_key");

        // What an admin key changes through the ingress is on record as that key's doing, not the bootstrap key's, which
        // the ingress uses to reach the status service.
        using var operatorKey = await admin.PostAsJsonAsync("/v1/api-keys", new { name = "operator", scopes = new[] { "admin" } });
        var operatorJson = JsonNode.Parse(await operatorKey.Content.ReadAsStringAsync())!;
        using var @operator = platform.CreateClient();
        @operator.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", operatorJson["token"]!.GetValue<string>());
        string subscription;
        using (var webhook = await @operator.PostAsJsonAsync("/v1/webhooks", new { url = "https://203.0.113.10/hook", events = new[] { "email.canceled" } }))
        {
            Assert.Equal(HttpStatusCode.Created, webhook.StatusCode);
            subscription = JsonNode.Parse(await webhook.Content.ReadAsStringAsync())!["id"]!.GetValue<string>();
        }

        using (var disable = await @operator.PatchAsJsonAsync($"/v1/webhooks/{subscription}", new { enabled = false }))
        {
            Assert.Equal(HttpStatusCode.OK, disable.StatusCode);
        }

        var history = JsonNode.Parse(await admin.GetStringAsync(new Uri($"/v1/webhooks/{subscription}", UriKind.Relative)))!["history"]!.AsArray();
        Assert.Equal(("webhook.disabled", operatorJson["id"]!.GetValue<string>()),
            (history[0]!["action"]!.GetValue<string>(), history[0]!["actor"]!.GetValue<string>()));
    }
}
