using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using EmailPlatform.Testing;
using MimeKit;

namespace EmailPlatform.Standalone.Tests;

/// <summary>
/// On the standalone host (SQLite, the capture relay): a feedback loop's report that a recipient marked a captured message
/// as spam is an <c>email.complained</c> event for that recipient, who stays <c>delivered</c> and is suppressed; the
/// email's <c>last_event</c> is <c>complained</c>.
/// </summary>
public sealed class ComplaintReportTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("emailplatform-complaints-").FullName;
    private readonly string _apiKey = TestInfrastructure.NewApiKey();

    [Fact]
    public async Task AComplaintAboutACapturedMessageIsOnItsRecipientsTimelineAndSuppressesTheAddress()
    {
        var data = Path.Combine(_root, "data");
        await using var host = StandaloneHost.Create(data, _apiKey, ServiceProcess.FreeTcpPort());
        using var client = StandaloneHost.Client(host, _apiKey);
        var (id, captured) = await StandaloneHost.SendAndCaptureAsync(client, data, "ann@example.test", "bea@example.test");
        using var _ = captured;

        using var report = new ByteArrayContent(Report(captured, "bea@example.test"));
        report.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("message/rfc822");
        using var answer = await client.PostAsync(new Uri("/v1/complaints", UriKind.Relative), report);

        var body = await answer.Content.ReadAsStringAsync();
        Assert.True(answer.StatusCode == HttpStatusCode.OK, body);
        var recorded = JsonNode.Parse(body)!;
        Assert.Equal((id, "bea@example.test", "recorded"),
            (recorded["email_id"]!.GetValue<string>(), recorded["recipient"]!.GetValue<string>(), recorded["result"]!.GetValue<string>()));

        var email = await StandaloneHost.WaitForStatusAsync(client, id, "delivered", StandaloneHost.DeliveryWait);
        var complaint = Assert.Single(email!["events"]!.AsArray(), e => e!["type"]!.GetValue<string>() == "email.complained")!;
        Assert.Equal("bea@example.test", complaint["recipient"]!.GetValue<string>());
        Assert.All(email["recipients"]!.AsArray(), r => Assert.Equal("delivered", r!["status"]!.GetValue<string>()));
        Assert.Equal("complained", email["last_event"]!.GetValue<string>());
        var suppression = await client.GetFromJsonAsync<JsonObject>(new Uri("/v1/suppressions/bea@example.test", UriKind.Relative));
        Assert.Equal("complaint", suppression!["source"]!.GetValue<string>());
        using var other = await client.GetAsync(new Uri("/v1/suppressions/ann@example.test", UriKind.Relative));
        Assert.Equal(HttpStatusCode.NotFound, other.StatusCode);
    }

    /// <summary>What a mailbox provider's feedback loop sends: an explanation, the feedback report and the message as it arrived.</summary>
    private static byte[] Report(MimeMessage original, string recipient)
    {
        var fields = new MimePart("message", "feedback-report")
        {
            Content = new MimeContent(new MemoryStream(Encoding.ASCII.GetBytes(
                $"Feedback-Type: abuse\r\nUser-Agent: ExampleMail-FBL/1.0\r\nVersion: 1\r\nOriginal-Rcpt-To: <{recipient}>\r\nReporting-MTA: dns; feedback.example.test\r\n"))),
        };
        var arf = new MimeMessage();
        arf.From.Add(MailboxAddress.Parse("feedbackloop@feedback.example.test"));
        arf.To.Add(MailboxAddress.Parse("fbl@acme.test"));
        arf.Subject = "Complaint";
        arf.Body = new MultipartReport("feedback-report")
        {
            new TextPart("plain") { Text = "This is an email abuse report." },
            fields,
            new MessagePart { Message = original },
        };
        using var stream = new MemoryStream();
        arf.WriteTo(stream);
        return stream.ToArray();
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);
}
