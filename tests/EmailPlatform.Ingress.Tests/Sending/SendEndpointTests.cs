using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using EmailPlatform.Contracts;
using EmailPlatform.Ingress.Outbox;
using EmailPlatform.Ingress.Tests.Support;
using EmailPlatform.Testing;

namespace EmailPlatform.Ingress.Tests.Sending;

/// <summary><c>POST /v1/emails</c> over HTTP against a real PostgreSQL and RabbitMQ.</summary>
public sealed class SendEndpointTests
{
    /// <summary>
    /// The host starts before its test migrates the database, and the outbox publisher backs off (up to 30 s) while the
    /// table is missing: on a loaded machine the first publish can come many seconds after the 202.
    /// </summary>
    private static readonly TimeSpan PublishWait = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task ValidEmailIsAcceptedStoredOnceAndPublishedAfterTheBrokerConfirms()
    {
        await using var app = await IngressApp.StartAsync();

        using var response = await app.PostEmailAsync(SendBodies.Json().ToJsonString());

        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Accepted, $"{(int)response.StatusCode}: {body}");
        var id = AcceptedId(body);
        Assert.Equal($"/v1/emails/{id}", response.Headers.Location?.OriginalString);
        Assert.Equal(1, await app.CountOutboxAsync());

        var row = await Eventually.GetAsync(
            () => app.FindOutboxRowAsync(id), r => r?.PublishedAt is not null, PublishWait, $"outbox row {id} to be published");

        Assert.NotNull(row);
        Assert.True(row.PublishedAt >= row.AcceptedAt, $"published {row.PublishedAt:O} before accepted {row.AcceptedAt:O}");
        Assert.Equal(1, await app.CountOutboxAsync());
    }

    [Fact]
    public async Task StoredCommandCarriesWhatTheClientSent()
    {
        await using var app = await IngressApp.StartAsync();
        var json = SendBodies.Json(b =>
        {
            b["cc"] = "carol@example.test";
            b["bcc"] = new JsonArray(" dave@example.test ");
            b["reply_to"] = "support@acme.test";
            b["attachments"] = new JsonArray(new JsonObject { ["filename"] = "invoice.pdf", ["content"] = Convert.ToBase64String([1, 2, 3]) });
        });

        using var response = await app.PostEmailAsync(json.ToJsonString());

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var id = AcceptedId(await response.Content.ReadAsStringAsync());
        var row = await app.FindOutboxRowAsync(id);
        Assert.NotNull(row);
        Assert.Equal(["dave@example.test"], row.Bcc);
        var command = row.Command;
        Assert.Equal(id, command.EmailId);
        Assert.Equal("Acme Billing <billing@acme.test>", command.From);
        Assert.Equal(["alice@example.test"], command.To);
        Assert.Equal(["carol@example.test"], command.Cc);
        Assert.Equal(["support@acme.test"], command.ReplyTo);
        Assert.Equal("billing@acme.test", command.Envelope.MailFrom);
        Assert.Equal(["alice@example.test", "carol@example.test", "dave@example.test"], command.Envelope.RcptTo);
        Assert.Equal("Your receipt", command.Subject);
        Assert.Equal("order-42", command.Headers["X-Entity-Ref-ID"]);
        Assert.Equal(new EmailTag("category", "receipt"), Assert.Single(command.Tags));
        var attachment = Assert.Single(command.Attachments);
        Assert.Equal(("invoice.pdf", "application/pdf"), (attachment.Filename, attachment.ContentType));
        Assert.Equal([1, 2, 3], attachment.Content);
        Assert.EndsWith("@acme.test", command.MessageId, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("alice@example.test")]
    [InlineData("""["alice@example.test"]""")]
    public async Task ToAsStringOrArrayIsAccepted(string to)
    {
        await using var app = await IngressApp.StartAsync();
        var json = SendBodies.Json(b => b["to"] = to.StartsWith('[') ? JsonNode.Parse(to) : to);

        using var response = await app.PostEmailAsync(json.ToJsonString());

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var row = await app.FindOutboxRowAsync(AcceptedId(await response.Content.ReadAsStringAsync()));
        Assert.NotNull(row);
        Assert.Equal(["alice@example.test"], row.Command.To);
    }

    private static Guid AcceptedId(string body)
    {
        using var json = JsonDocument.Parse(body);
        var properties = json.RootElement.EnumerateObject().Select(p => p.Name).ToList();
        Assert.Equal(["id"], properties);
        var id = Guid.Parse(json.RootElement.GetProperty("id").GetString()!);
        Assert.NotEqual(Guid.Empty, id);
        return id;
    }
}
