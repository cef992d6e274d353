using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using EmailPlatform.ServiceDefaults.Messaging;
using EmailPlatform.Testing;
using MimeKit;
using Npgsql;
using RabbitMQ.Client;

namespace EmailPlatform.EndToEnd.Tests;

/// <summary>
/// Large emails in distributed mode: their content is stored once with the accept and the bus carries references, so
/// the broker's queues stay small however many large emails wait in them; the worker and the status service read the
/// content from the store, and every email arrives at the relay intact.
/// </summary>
public sealed class LargeEmailTests
{
    private const int Emails = 4;
    private const int AttachmentBytes = 6 * 1024 * 1024;
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(120);

    [Fact]
    public async Task LargeEmailsWaitOnTheBrokerAsSmallMessagesAndArriveIntact()
    {
        await using var relay = await ScriptedSmtpServer.StartAsync();
        await using var stack = await PlatformStack.CreateAsync(new PlatformStackOptions { RelayHost = "127.0.0.1", RelayPort = relay.Port });
        // The lanes exist before any worker does, so accepted commands wait in them until a worker starts.
        await LaneQueues.DeclareAsync(stack.BrokerUri);
        await stack.StartStatusAsync();
        await stack.StartIngressAsync();
        using var client = stack.CreateClient();

        var sent = new List<(string Id, string FileName, byte[] Attachment, string Html)>();
        for (var i = 0; i < Emails; i++)
        {
            var attachment = RandomNumberGenerator.GetBytes(AttachmentBytes);
            // Over the inline limit (256 KB) on its own: the status service reads the body from the store too.
            var html = $"<p>Statement {i}</p><p>{new string('x', 300_000)}</p>";
            var id = await EmailApi.SendAsync(client, new
            {
                from = "Acme Statements <statements@acme.test>",
                to = new[] { $"customer{i}@example.test" },
                subject = $"Statement {i}",
                html,
                attachments = new[] { new { filename = $"statement-{i}.pdf", content = Convert.ToBase64String(attachment), content_type = "application/pdf" } },
            });
            sent.Add((id, $"statement-{i}.pdf", attachment, html));
        }

        // Every bus message of these emails (commands and events alike) left the outbox small.
        Assert.Equal(Emails, await ScalarAsync(stack, "SELECT count(*)::int FROM email_contents"));
        Assert.True(await ScalarAsync(stack, "SELECT max(octet_length(payload)) FROM outbox_messages") < 8 * 1024, "an outbox payload is large");
        var queued = await QueuedMessageSizesAsync(stack.BrokerUri, DeliveryLanes.Normal, Emails);
        Assert.All(queued, size => Assert.True(size < 8 * 1024, $"a queued SendEmail of {size} bytes"));

        await stack.StartWorkerAsync(0);

        foreach (var (id, _, _, html) in sent)
        {
            var email = await EmailApi.WaitForFinalStateAsync(client, id, Timeout);
            Assert.True(email!["status"]!.GetValue<string>() == "delivered", stack.Logs);
            Assert.Equal(html, email["html"]!.GetValue<string>());
        }

        Assert.Equal(Emails, relay.Received.Count);
        foreach (var received in relay.Received)
        {
            var message = MimeMessage.Load(new MemoryStream(received.Raw));
            var part = Assert.Single(message.Attachments.OfType<MimePart>());
            var (_, _, attachment, html) = sent.Single(s => s.FileName == part.FileName);
            using var content = new MemoryStream();
            await part.Content!.DecodeToAsync(content);
            Assert.Equal(SHA256.HashData(attachment), SHA256.HashData(content.ToArray()));
            Assert.Equal(html, message.HtmlBody);
        }
    }

    /// <summary>
    /// An email whose request is exactly the ingress's default limit (<c>Ingress:MaxRequestBodyBytes</c>, 40 MiB), nearly
    /// all of it one attachment, arrives at the relay intact; the same request one byte longer is refused with 413 and
    /// leaves nothing stored or queued.
    /// </summary>
    [Fact]
    public async Task AnEmailAsLargeAsTheIngressAcceptsArrivesIntactAndOneByteMoreIsRefused()
    {
        const int limit = 40 * 1024 * 1024;
        await using var relay = await ScriptedSmtpServer.StartAsync();
        await using var stack = await PlatformStack.CreateAsync(new PlatformStackOptions { RelayHost = "127.0.0.1", RelayPort = relay.Port });
        await stack.StartStatusAsync();
        await stack.StartIngressAsync();
        await stack.StartWorkerAsync(0);
        using var client = stack.CreateClient();

        var (atLimit, attachment) = RequestOfExactly(limit);
        Assert.Equal(limit, Encoding.UTF8.GetByteCount(atLimit));

        using (var tooLarge = await PostAsync(client, atLimit.Insert(atLimit.IndexOf("At the limit", StringComparison.Ordinal), "!")))
        {
            Assert.Equal(HttpStatusCode.RequestEntityTooLarge, tooLarge.StatusCode);
            var problem = JsonNode.Parse(await tooLarge.Content.ReadAsStringAsync())!;
            Assert.Equal("payload_too_large", problem["name"]!.GetValue<string>());
        }

        Assert.Equal(0, await ScalarAsync(stack, "SELECT count(*)::int FROM email_contents"));
        Assert.Equal(0, await ScalarAsync(stack, "SELECT count(*)::int FROM outbox_messages"));

        string id;
        using (var accepted = await PostAsync(client, atLimit))
        {
            var body = await accepted.Content.ReadAsStringAsync();
            Assert.True(accepted.StatusCode == HttpStatusCode.Accepted, $"{(int)accepted.StatusCode}: {body}");
            id = JsonNode.Parse(body)!["id"]!.GetValue<string>();
        }

        var email = await EmailApi.WaitForFinalStateAsync(client, id, Timeout);
        Assert.True(email!["status"]!.GetValue<string>() == "delivered", stack.Logs);
        var received = Assert.Single(relay.Received);
        var message = MimeMessage.Load(new MemoryStream(received.Raw));
        var part = Assert.Single(message.Attachments.OfType<MimePart>());
        Assert.Equal("archive.bin", part.FileName);
        using var content = new MemoryStream();
        await part.Content!.DecodeToAsync(content);
        Assert.Equal(attachment.Length, content.Length);
        Assert.Equal(SHA256.HashData(attachment), SHA256.HashData(content.ToArray()));
        Assert.Equal(1, await ScalarAsync(stack, "SELECT count(*)::int FROM email_contents"));
    }

    /// <summary>
    /// A send request of exactly <paramref name="bytes"/> bytes: one attachment of random bytes takes all but a few hundred,
    /// and the text absorbs what the attachment's base64 (a multiple of four characters) leaves over.
    /// </summary>
    private static (string Request, byte[] Attachment) RequestOfExactly(int bytes)
    {
        const string head = "{\"from\":\"Acme Archive <archive@acme.test>\",\"to\":[\"keeper@example.test\"],\"subject\":\"At the limit\",\"text\":\"Attached.";
        const string middle = "\",\"attachments\":[{\"filename\":\"archive.bin\",\"content_type\":\"application/octet-stream\",\"content\":\"";
        const string tail = "\"}]}";
        var room = bytes - head.Length - middle.Length - tail.Length;
        var attachment = RandomNumberGenerator.GetBytes(room / 4 * 3);
        var request = head + new string('.', room % 4) + middle + Convert.ToBase64String(attachment) + tail;
        return (request, attachment);
    }

    private static Task<HttpResponseMessage> PostAsync(HttpClient client, string json) =>
        client.PostAsync(new Uri("/v1/emails", UriKind.Relative), new StringContent(json, Encoding.UTF8, "application/json"));

    private static async Task<int> ScalarAsync(PlatformStack stack, string sql)
    {
        await using var connection = new NpgsqlConnection(stack.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return (int)(await command.ExecuteScalarAsync())!;
    }

    /// <summary>
    /// The body sizes of the <paramref name="count"/> messages a queue holds once the outbox has published them all:
    /// each is fetched without acknowledgement and handed back when the channel closes.
    /// </summary>
    private static async Task<List<int>> QueuedMessageSizesAsync(Uri broker, string queue, int count)
    {
        await using var connection = await new ConnectionFactory { Uri = broker }.CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync();
        await Eventually.GetAsync(async () => (await channel.QueueDeclarePassiveAsync(queue)).MessageCount,
            ready => ready == count, Timeout, $"{count} messages in {queue}");
        var sizes = new List<int>();
        for (var i = 0; i < count; i++)
        {
            var message = await channel.BasicGetAsync(queue, autoAck: false);
            Assert.NotNull(message);
            sizes.Add(message.Body.Length);
        }

        await channel.CloseAsync();
        return sizes;
    }
}
