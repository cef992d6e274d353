using System.Security.Cryptography;
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
