using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using EmailPlatform.Testing;
using MimeKit;

namespace EmailPlatform.Standalone.Tests;

/// <summary>
/// On the standalone host (SQLite, the capture relay): the delivery status notification a recipient's server would send
/// back for a message the relay took, built around the headers of the message as captured, turns the recipient from
/// <c>delivered</c> into <c>bounced</c> and suppresses it.
/// </summary>
public sealed class BounceReportTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("emailplatform-bounces-").FullName;
    private readonly string _apiKey = TestInfrastructure.NewApiKey();

    [Fact]
    public async Task ABounceReportedForACapturedMessageMakesItsRecipientBouncedAndSuppressed()
    {
        var data = Path.Combine(_root, "data");
        await using var host = StandaloneHost.Create(data, _apiKey, ServiceProcess.FreeTcpPort());
        using var client = StandaloneHost.Client(host, _apiKey);
        var (id, captured) = await StandaloneHost.SendAndCaptureAsync(client, data, "ann@example.test", "bea@example.test");
        using var _ = captured;

        using var report = new ByteArrayContent(Report(captured, "bea@example.test"));
        report.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("message/rfc822");
        using var answer = await client.PostAsync(new Uri("/v1/bounces", UriKind.Relative), report);

        var body = await answer.Content.ReadAsStringAsync();
        Assert.True(answer.StatusCode == HttpStatusCode.OK, body);
        var recorded = JsonNode.Parse(body)!;
        Assert.Equal(id, recorded["email_id"]!.GetValue<string>());
        Assert.Equal("recorded", recorded["recipients"]![0]!["result"]!.GetValue<string>());

        var email = await StandaloneHost.WaitForStatusAsync(client, id, "bounced", StandaloneHost.DeliveryWait);
        var states = email!["recipients"]!.AsArray().ToDictionary(r => r!["email"]!.GetValue<string>(), r => r!["status"]!.GetValue<string>());
        Assert.Equal("delivered", states["ann@example.test"]);
        Assert.Equal("bounced", states["bea@example.test"]);
        using var suppression = await client.GetAsync(new Uri("/v1/suppressions/bea@example.test", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, suppression.StatusCode);
    }

    [Fact]
    public async Task WithAReturnPathTheEnvelopeSenderNamesTheEmailAndABounceSentBackToItIsRecorded()
    {
        var data = Path.Combine(_root, "data");
        await using var host = StandaloneHost.Create(data, _apiKey, ServiceProcess.FreeTcpPort(),
            web => web.UseSetting("Ingress:ReturnPath", "bounces@bounce.acme.test"));
        using var client = StandaloneHost.Client(host, _apiKey);
        var (id, captured) = await StandaloneHost.SendAndCaptureAsync(client, data, "ann@example.test");
        using var _ = captured;
        var envelopeSender = captured.Headers["X-Envelope-From"]!.Trim('<', '>');
        Assert.Equal($"bounces+{Guid.Parse(id):N}@bounce.acme.test", envelopeSender);
        Assert.Equal("hello@acme.test", captured.From.Mailboxes.Single().Address);

        // A report that returns nothing of the message, delivered to the envelope sender.
        using var report = new ByteArrayContent(Report(null, "ann@example.test", envelopeSender));
        report.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("message/rfc822");
        using var answer = await client.PostAsync(new Uri("/v1/bounces", UriKind.Relative), report);

        Assert.True(answer.StatusCode == HttpStatusCode.OK, await answer.Content.ReadAsStringAsync());
        await StandaloneHost.WaitForStatusAsync(client, id, "bounced", StandaloneHost.DeliveryWait);
    }

    /// <summary>
    /// What the recipient's server sends the envelope sender: an explanation, the report and, when
    /// <paramref name="original"/> is given, the message's headers.
    /// </summary>
    private static byte[] Report(MimeMessage? original, string recipient, string envelopeSender = "hello@acme.test")
    {
        var status = new MessageDeliveryStatus();
        status.StatusGroups.Add(new HeaderList { { "Reporting-MTA", "dns; mx.example.test" } });
        status.StatusGroups.Add(new HeaderList
        {
            { "Final-Recipient", $"rfc822; {recipient}" },
            { "Action", "failed" },
            { "Status", "5.1.1" },
            { "Diagnostic-Code", $"smtp; 550 5.1.1 <{recipient}>: Recipient address rejected: User unknown" },
        });
        var dsn = new MimeMessage();
        dsn.From.Add(new MailboxAddress("Mail Delivery System", "MAILER-DAEMON@mx.example.test"));
        dsn.To.Add(MailboxAddress.Parse(envelopeSender));
        dsn.Subject = "Undelivered Mail Returned to Sender";
        var body = new MultipartReport("delivery-status") { new TextPart("plain") { Text = "Your message could not be delivered." }, status };
        if (original is not null)
        {
            var returned = new MimeMessage();
            returned.Headers.Clear();
            foreach (var header in original.Headers)
            {
                returned.Headers.Add(header);
            }

            body.Add(new TextRfc822Headers { Message = returned });
        }

        dsn.Body = body;
        using var stream = new MemoryStream();
        dsn.WriteTo(stream);
        return stream.ToArray();
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);
}
