using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using EmailPlatform.Ingress.Storage;
using EmailPlatform.Status.Storage;
using EmailPlatform.Testing;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using MimeKit;

namespace EmailPlatform.Standalone.Tests;

/// <summary>
/// The standalone host (Program.cs, embedded defaults) in this process, on its own data directory and capture relay
/// port; two hosts made with the same ones are the same installation started twice.
/// </summary>
internal static class StandaloneHost
{
    /// <summary>
    /// How long a test waits for an email to reach a state that needs the pipeline to run: on the CI's two cores shared
    /// with the other test projects, one capture-relay delivery on a just-started host has taken over 20 s. A wait returns
    /// as soon as the state is reached, so only a real failure takes this long.
    /// </summary>
    public static readonly TimeSpan DeliveryWait = TimeSpan.FromSeconds(60);

    public static WebApplicationFactory<StandaloneOptions> Create(
        string dataDirectory, string apiKey, int captureRelayPort, Action<IWebHostBuilder>? configure = null) =>
        new WebApplicationFactory<StandaloneOptions>().WithWebHostBuilder(web =>
        {
            web.UseSetting("Auth:BootstrapKey", apiKey);
            web.UseSetting("Standalone:DataDirectory", dataDirectory);
            web.UseSetting("Standalone:CaptureRelayPort", captureRelayPort.ToString(CultureInfo.InvariantCulture));
            configure?.Invoke(web);
        });

    public static HttpClient Client(WebApplicationFactory<StandaloneOptions> host, string apiKey)
    {
        var client = host.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
        return client;
    }

    /// <summary>Waits until <c>GET /v1/emails/{id}</c> shows <paramref name="status"/>; returns the email.</summary>
    public static Task<JsonNode?> WaitForStatusAsync(HttpClient client, string id, string status, TimeSpan timeout) =>
        Eventually.GetAsync(
            async () =>
            {
                using var read = await client.GetAsync(new Uri($"/v1/emails/{id}", UriKind.Relative));
                return read.IsSuccessStatusCode ? JsonNode.Parse(await read.Content.ReadAsStringAsync()) : null;
            },
            email => email?["status"]?.GetValue<string>() == status, timeout, $"email {id} to be {status}");

    /// <summary>
    /// Waits until the email's <c>EmailAccepted</c> is published and recorded. A read shows a scheduled email
    /// <c>scheduled</c> before that, from the outbox, while its first outbox row may still be unpublished: a test that
    /// then counts its unpublished rows finds three, not two.
    /// </summary>
    public static async Task AcceptRecordedAsync(IServiceProvider services, Guid emailId, TimeSpan timeout)
    {
        using var scope = services.CreateScope();
        var ingress = scope.ServiceProvider.GetRequiredService<IngressDbContext>();
        var status = scope.ServiceProvider.GetRequiredService<StatusDbContext>();
        await Eventually.GetAsync(
            async () => await status.Emails.AnyAsync(e => e.Id == emailId) && await ingress.OutboxMessages.AnyAsync(m => m.EmailId == emailId && m.PublishedAt != null),
            recorded => recorded, timeout, $"email {emailId}'s EmailAccepted to be published and recorded");
    }

    /// <summary>
    /// Sends an email scheduled an hour ahead and leaves the stores as <paramref name="host"/> does once it came due and its
    /// <c>EmailQueued</c> and <c>SendEmail</c> went onto the in-memory bus, taken by no consumer yet: what a start's
    /// recovery publishes again (their outbox rows' <c>published_at</c> set back to null). Returns the email's id.
    /// </summary>
    public static async Task<Guid> LeaveCommandOnTheBusAsync(WebApplicationFactory<StandaloneOptions> host, HttpClient client)
    {
        using var sent = await client.PostAsJsonAsync(new Uri("/v1/emails", UriKind.Relative), new
        {
            from = "hello@acme.test", to = "cat@example.test", subject = "Scheduled", text = "Hi.", scheduled_at = DateTimeOffset.UtcNow.AddHours(1),
        });
        Assert.Equal(HttpStatusCode.Accepted, sent.StatusCode);
        var emailId = Guid.Parse((await sent.Content.ReadFromJsonAsync<JsonObject>())!["id"]!.GetValue<string>());

        // Its EmailAccepted published and recorded, the other two waiting.
        await AcceptRecordedAsync(host.Services, emailId, DeliveryWait);
        using var scope = host.Services.CreateScope();
        var ingress = scope.ServiceProvider.GetRequiredService<IngressDbContext>();
        var now = DateTime.UtcNow;
        Assert.Equal(2, await ingress.OutboxMessages.Where(m => m.EmailId == emailId && m.PublishedAt == null)
            .ExecuteUpdateAsync(set => set.SetProperty(m => m.AvailableAt, now).SetProperty(m => m.PublishedAt, now)));
        return emailId;
    }

    /// <summary>
    /// Sends a one-line receipt from <c>hello@acme.test</c> to <paramref name="to"/>, waits until it is delivered to the
    /// capture relay, and returns its id and the message as captured (the only one in <paramref name="dataDirectory"/>).
    /// </summary>
    public static async Task<(string Id, MimeMessage Captured)> SendAndCaptureAsync(HttpClient client, string dataDirectory, params string[] to)
    {
        using var sent = await client.PostAsJsonAsync(new Uri("/v1/emails", UriKind.Relative),
            new { from = "Acme <hello@acme.test>", to, subject = "Receipt", text = "Thanks." });
        Assert.Equal(HttpStatusCode.Accepted, sent.StatusCode);
        var id = (await sent.Content.ReadFromJsonAsync<JsonObject>())!["id"]!.GetValue<string>();
        await WaitForStatusAsync(client, id, "delivered", DeliveryWait);
        return (id, await MimeMessage.LoadAsync(Assert.Single(Directory.GetFiles(Path.Combine(dataDirectory, "mail"), "*.eml"))));
    }
}
