using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using EmailPlatform.Testing;
using MimeKit;

namespace EmailPlatform.EndToEnd.Tests;

/// <summary>
/// <c>POST /v1/emails/raw</c> in distributed mode: the client's own MIME goes through the outbox, RabbitMQ and a
/// delivery worker to the relay unchanged, with the envelope the client gave, and is reported delivered.
/// </summary>
public sealed class RawDeliveryTests
{
    private static readonly TimeSpan DeliveryTimeout = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task RawMessageArrivesAtTheRelayWithItsBodyUnchangedAndTheGivenEnvelope()
    {
        await using var relay = await ScriptedSmtpServer.StartAsync();
        await using var platform = await DistributedPlatform.StartAsync("127.0.0.1", relay.Port);
        using var client = platform.CreateClient();

        var message = new MimeMessage();
        message.From.Add(new MailboxAddress("Acme Reports", "reports@acme.test"));
        message.To.Add(MailboxAddress.Parse("alice@example.test"));
        message.Bcc.Add(MailboxAddress.Parse("audit@example.test"));
        message.Subject = "Monthly report – März";
        message.MessageId = "report-2026-11@acme.test";
        message.Headers.Add("X-Report-Id", "r-42");
        var body = new BodyBuilder { TextBody = "See the attached report.\r\n.\r\nA line with a lone dot above.", HtmlBody = "<p>See the <b>attached</b> report.</p>" };
        body.Attachments.Add("report.csv", "month,total\r\n2026-11,42\r\n"u8.ToArray(), new ContentType("text", "csv"));
        message.Body = body.ToMessageBody();
        using var stream = new MemoryStream();
        var crlf = FormatOptions.Default.Clone();
        crlf.NewLineFormat = NewLineFormat.Dos;
        await message.WriteToAsync(crlf, stream);
        var sent = stream.ToArray();

        using var response = await client.PostAsJsonAsync("/v1/emails/raw", new
        {
            raw = Convert.ToBase64String(sent),
            mail_from = "bounces@acme.test",
            rcpt_to = new[] { "alice@example.test", "audit@example.test" },
            tags = new[] { new { name = "kind", value = "report" } },
        });
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Accepted, $"{(int)response.StatusCode}: {text}");
        var id = JsonNode.Parse(text)!["id"]!.GetValue<string>();

        var email = await platform.WithLogsAsync(() => EmailApi.WaitForFinalStateAsync(client, id, DeliveryTimeout));

        Assert.True(email!["status"]!.GetValue<string>() == "delivered", platform.Logs);
        Assert.Equal("report-2026-11@acme.test", email["message_id"]!.GetValue<string>().Trim('<', '>'));
        var received = Assert.Single(relay.Received);
        Assert.Equal("bounces@acme.test", received.MailFrom);
        Assert.Equal(["alice@example.test", "audit@example.test"], received.RcptTo.Order(StringComparer.Ordinal));

        Assert.Equal(Body(sent), Body(received.Raw));
        var arrived = MimeMessage.Load(new MemoryStream(received.Raw));
        Assert.Equal("report-2026-11@acme.test", arrived.MessageId);
        Assert.Equal("Monthly report – März", arrived.Subject);
        Assert.Equal("r-42", arrived.Headers["X-Report-Id"]);
        Assert.Null(arrived.Headers[HeaderId.Bcc]);
        Assert.DoesNotContain("audit@example.test", System.Text.Encoding.UTF8.GetString(received.Raw), StringComparison.OrdinalIgnoreCase);
        Assert.Equal("report.csv", Assert.Single(arrived.Attachments).ContentDisposition?.FileName);
    }

    [Fact]
    public async Task RawMessageWhoseHeadersNameNoRecipientNorDateIsDeliveredToItsEnvelopeDatedAndReportedSo()
    {
        await using var relay = await ScriptedSmtpServer.StartAsync();
        await using var platform = await DistributedPlatform.StartAsync("127.0.0.1", relay.Port);
        using var client = platform.CreateClient();

        // A newsletter-style message: the To header is a group with no members, the recipients are in the envelope only.
        var sent = "From: News <news@acme.test>\r\nTo: undisclosed-recipients:;\r\nSubject: Weekly news\r\n\r\nThis week.\r\n"u8.ToArray();
        using var response = await client.PostAsJsonAsync("/v1/emails/raw", new
        {
            raw = Convert.ToBase64String(sent),
            mail_from = "bounces@acme.test",
            rcpt_to = new[] { "alice@example.test", "bob@example.test" },
        });
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Accepted, $"{(int)response.StatusCode}: {text}");
        var id = JsonNode.Parse(text)!["id"]!.GetValue<string>();

        var email = await platform.WithLogsAsync(() => EmailApi.WaitForFinalStateAsync(client, id, DeliveryTimeout));

        Assert.True(email!["status"]!.GetValue<string>() == "delivered", email.ToJsonString());
        Assert.Equal(
            ["alice@example.test", "bob@example.test"],
            email["recipients"]!.AsArray().Select(r => r!["email"]!.GetValue<string>()).Order(StringComparer.Ordinal));
        Assert.All(email["recipients"]!.AsArray(), r => Assert.Equal("delivered", r!["status"]!.GetValue<string>()));
        var received = Assert.Single(relay.Received);
        Assert.Equal(2, received.RcptTo.Count);

        // The message had no Date, which RFC 5322 requires: it arrives dated when it was accepted, and otherwise as sent.
        var arrived = MimeMessage.Load(new MemoryStream(received.Raw));
        Assert.InRange(arrived.Date, DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow);
        Assert.Equal(Body(sent), Body(received.Raw));
    }

    /// <summary>
    /// Everything after the header block: what must arrive byte for byte. The last CRLF is left out: on the wire it
    /// is part of the end-of-data sequence (CRLF.CRLF), and the relay hands over the data without it.
    /// </summary>
    private static byte[] Body(byte[] message)
    {
        var span = message.AsSpan();
        var end = span.IndexOf("\r\n\r\n"u8);
        Assert.True(end > 0, "no header/body separator");
        var body = span[(end + 4)..];
        return (body.EndsWith("\r\n"u8) ? body[..^2] : body).ToArray();
    }
}
