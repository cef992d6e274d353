using System.Net;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using EmailPlatform.Ingress.Maintenance;
using EmailPlatform.Ingress.Storage;
using EmailPlatform.Ingress.Tests.Raw;
using EmailPlatform.Ingress.Tests.Support;
using EmailPlatform.ServiceDefaults.Storage;
using EmailPlatform.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using MimeKit;

namespace EmailPlatform.Ingress.Tests.Outbox;

/// <summary>
/// Emails larger than <c>Ingress:InlineContentLimit</c>: their content is stored once, in the accept's transaction,
/// and their bus messages carry a reference to it, so the broker holds small messages however large the emails.
/// </summary>
public sealed class StoredContentTests
{
    private const int Limit = 4096;

    [Fact]
    public async Task EmailOverTheInlineLimitIsStoredOnceAndItsMessagesCarryOnlyAReference()
    {
        var attachment = RandomNumberGenerator.GetBytes(12_000);
        var html = "<p>" + new string('a', 6000) + "</p>";
        await using var app = await StartAsync();

        var id = await AcceptAsync(app, SendBodies.Json(b =>
        {
            b["html"] = html;
            b["attachments"] = new JsonArray(new JsonObject { ["filename"] = "data.bin", ["content"] = Convert.ToBase64String(attachment) });
        }).ToJsonString());

        var entry = (await app.FindOutboxRowAsync(id))!;
        Assert.NotNull(entry.Command.StoredContent);
        Assert.Equal((null, null, 0, null), (entry.Command.Html, entry.Command.Text, entry.Command.Attachments.Count, entry.Command.RawMessage));
        Assert.Equal(id, entry.Command.StoredContent.Key);
        // The bodies alone are over the limit too: the status service reads them from the store.
        Assert.Equal((null, null), (entry.Accepted.Html, entry.Accepted.Text));
        Assert.Equal(entry.Command.StoredContent, entry.Accepted.StoredBody);
        Assert.Equal(["data.bin"], entry.Accepted.AttachmentNames);
        var rows = await app.OutboxRowsAsync();
        Assert.All(rows, r => Assert.True(r.Payload.Length < 4096, $"outbox payload of {r.Payload.Length} characters"));

        var stored = await ContentAsync(app, id);
        Assert.Equal((html, "Thanks for your order."), (stored.Html, stored.Text));
        var part = Assert.Single(stored.Attachments);
        Assert.Equal("data.bin", part.Filename);
        Assert.Equal(attachment, part.Content);
        Assert.Equal(html.Length + "Thanks for your order.".Length + attachment.Length, stored.Size);
        Assert.Equal(stored.Size, entry.Command.StoredContent.Size);
        Assert.True(stored.KeepUntil > DateTime.UtcNow.AddDays(6.9), $"kept until {stored.KeepUntil:O}");
    }

    [Fact]
    public async Task LargeAttachmentsAreStoredWhileSmallBodiesStillTravelWithTheAcceptedEvent()
    {
        await using var app = await StartAsync();

        var id = await AcceptAsync(app, SendBodies.Json(b =>
            b["attachments"] = new JsonArray(new JsonObject { ["filename"] = "a.bin", ["content"] = Convert.ToBase64String(new byte[Limit + 1]) })).ToJsonString());

        var entry = (await app.FindOutboxRowAsync(id))!;
        Assert.NotNull(entry.Command.StoredContent);
        Assert.Null(entry.Command.Html);
        Assert.Equal(("<p>Thanks for your order.</p>", "Thanks for your order."), (entry.Accepted.Html, entry.Accepted.Text));
        Assert.Null(entry.Accepted.StoredBody);
        Assert.Equal(["a.bin"], entry.Accepted.AttachmentNames);
    }

    [Fact]
    public async Task EmailWithinTheInlineLimitTravelsWholeAndStoresNoContent()
    {
        await using var app = await StartAsync();

        var id = await AcceptAsync(app, SendBodies.Json().ToJsonString());

        var entry = (await app.FindOutboxRowAsync(id))!;
        Assert.Null(entry.Command.StoredContent);
        Assert.Equal("<p>Thanks for your order.</p>", entry.Command.Html);
        Assert.Equal(0, await app.Database.CountAsync(StoredContents.ContentsTable));
    }

    [Fact]
    public async Task LargeRawMessageIsStoredAndItsCommandCarriesTheReference()
    {
        await using var app = await StartAsync();
        using var client = app.CreateClient();
        var message = RawEndpointTests.Message();
        message.Body = new TextPart("plain") { Text = new string('r', 10_000) };

        using var response = await IngressApp.PostJsonAsync(client, "/v1/emails/raw", RawEndpointTests.Body(message, "billing@acme.test", "alice@example.test"));

        var id = await IdAsync(response);
        var entry = (await app.FindOutboxRowAsync(id))!;
        Assert.Null(entry.Command.RawMessage);
        Assert.NotNull(entry.Command.StoredContent);
        var stored = await ContentAsync(app, id);
        Assert.Equal(message.MessageId, MimeMessage.Load(new MemoryStream(stored.RawMessage!)).MessageId);
        Assert.Equal(new string('r', 10_000), MimeMessage.Load(new MemoryStream(stored.RawMessage!)).TextBody?.TrimEnd());
    }

    [Fact]
    public async Task PendingEmailIsReadWithItsStoredBodies()
    {
        using var status = new StatusStandIn(_ => (404, $$"""
            {"type": "{{ProblemAssert.TypeBase}}not_found", "title": "Email not found.", "status": 404, "name": "not_found",
             "message": "No such email.", "errors": {}, "statusCode": 404}
            """));
        var html = "<p>" + new string('b', 8000) + "</p>";
        await using var app = await StartAsync(new Dictionary<string, string?> { ["Ingress:StatusUrl"] = status.Url });
        using var client = app.CreateClient();

        var id = await AcceptAsync(app, SendBodies.Json(b => b["html"] = html).ToJsonString());

        using var read = JsonDocument.Parse(await client.GetStringAsync(new Uri($"/v1/emails/{id}", UriKind.Relative)));
        Assert.Equal("queued", read.RootElement.GetProperty("last_event").GetString());
        Assert.Equal(html, read.RootElement.GetProperty("html").GetString());
        Assert.Equal("Thanks for your order.", read.RootElement.GetProperty("text").GetString());
    }

    [Fact]
    public async Task StoredContentIsKeptPastTheNewTimeOfARescheduleAndDeletedOnceItsTimeHasPassed()
    {
        await using var app = await StartAsync();
        using var client = app.CreateClient();
        var big = "<p>" + new string('c', 8000) + "</p>";
        var scheduledAt = DateTimeOffset.UtcNow.AddHours(1);
        var later = await AcceptAsync(app, SendBodies.Json(b => { b["html"] = big; b["scheduled_at"] = scheduledAt.ToString("O"); }).ToJsonString());
        var old = await AcceptAsync(app, SendBodies.Json(b =>
            b["attachments"] = new JsonArray(new JsonObject { ["filename"] = "a.bin", ["content"] = Convert.ToBase64String(new byte[Limit + 1]) })).ToJsonString());
        Assert.Equal(scheduledAt.UtcDateTime.AddDays(7), (await ContentAsync(app, later)).KeepUntil, TimeSpan.FromMilliseconds(1));

        var movedTo = scheduledAt.AddDays(10);
        using var moved = await client.PatchAsync(new Uri($"/v1/emails/{later}", UriKind.Relative),
            new StringContent($$"""{"scheduled_at": "{{movedTo:O}}"}""", System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, moved.StatusCode);
        Assert.Equal(movedTo.UtcDateTime.AddDays(7), (await ContentAsync(app, later)).KeepUntil, TimeSpan.FromMilliseconds(1));

        // The other email's time has passed: the janitor deletes its content and attachments, and nothing else.
        await app.ExecuteSqlAsync($"UPDATE {StoredContents.ContentsTable} SET keep_until = now() - interval '1 second' WHERE email_id = '{old}'");
        var janitor = app.Services.GetServices<IHostedService>().OfType<StoreJanitor>().Single();
        var swept = await janitor.SweepAsync(CancellationToken.None);

        Assert.Equal(1, swept.Contents);
        Assert.Equal(1, await app.Database.CountAsync(StoredContents.ContentsTable));
        Assert.Equal(0, await app.Database.CountAsync(StoredContents.AttachmentsTable));
        Assert.Equal(big, (await ContentAsync(app, later)).Html);
    }

    /// <summary>An ingress whose inline limit is small and whose broker is unreachable, so rows stay as accepted.</summary>
    private static Task<IngressApp> StartAsync(Dictionary<string, string?>? settings = null)
    {
        settings ??= [];
        settings["Ingress:InlineContentLimit"] = Limit.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return IngressApp.StartAsync(rabbitMq: new Uri($"amqp://guest:guest@127.0.0.1:{ServiceProcess.FreeTcpPort()}/"), settings: settings);
    }

    private static async Task<EmailContentRecord> ContentAsync(IngressApp app, Guid id)
    {
        await using var scope = app.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<IngressDbContext>();
        return await db.EmailContents.AsNoTracking().Include(c => c.Attachments).SingleAsync(c => c.EmailId == id);
    }

    private static async Task<Guid> AcceptAsync(IngressApp app, string json)
    {
        using var response = await app.PostEmailAsync(json);
        return await IdAsync(response);
    }

    private static async Task<Guid> IdAsync(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Accepted, $"{(int)response.StatusCode}: {text}");
        using var json = JsonDocument.Parse(text);
        return json.RootElement.GetProperty("id").GetGuid();
    }
}
