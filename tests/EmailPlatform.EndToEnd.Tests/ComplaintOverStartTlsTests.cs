using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json.Nodes;
using EmailPlatform.Testing;
using MailKit.Net.Smtp;
using MimeKit;

namespace EmailPlatform.EndToEnd.Tests;

/// <summary>
/// A complaint's whole way, with a real Postfix as the MTA in between: a raw send with its own Message-ID and envelope
/// sender (so only the <c>X-Email-Id</c> header the worker adds names its email) is delivered through Postfix; the
/// mailbox provider's feedback loop report about it, returning the message as the recipient got it, is handed to Postfix
/// for <c>fbl@bounce.acme.test</c>, and Postfix, made to insist on STARTTLS, delivers it to the status service's listener,
/// the MX of that domain, which offers STARTTLS with its configured certificate: the complaint is on the recipient's
/// timeline and the address is suppressed.
/// </summary>
public sealed class ComplaintOverStartTlsTests
{
    private static readonly TimeSpan Bounded = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task AComplaintAboutARawSendReachesTheListenerOverStartTlsAndSuppressesTheRecipient()
    {
        var certificates = Directory.CreateTempSubdirectory("emailplatform-listener-tls-").FullName;
        try
        {
            var (certificatePath, keyPath) = WriteCertificate(certificates);
            await using var recipients = await ScriptedSmtpServer.StartAsync();
            var listenerPort = ServiceProcess.FreeTcpPort();
            await using var postfix = await PostfixRelay.StartAsync(recipients.Port,
                new Dictionary<string, int> { ["example.test"] = recipients.Port, ["bounce.acme.test"] = listenerPort },
                encryptTo: [listenerPort]);
            await using var platform = await DistributedPlatform.StartAsync("127.0.0.1", postfix.Port,
                status: new Dictionary<string, string?>
                {
                    ["Status__BounceListener__Port"] = listenerPort.ToString(CultureInfo.InvariantCulture),
                    ["Status__BounceListener__Address"] = "127.0.0.1",
                    ["Status__BounceListener__Domains__0"] = "bounce.acme.test",
                    ["Status__BounceListener__CertificatePath"] = certificatePath,
                    ["Status__BounceListener__CertificateKeyPath"] = keyPath,
                });
            using var client = platform.CreateClient();

            var message = new MimeMessage();
            message.From.Add(new MailboxAddress("Acme", "news@acme.test"));
            message.To.Add(MailboxAddress.Parse("ann@example.test"));
            message.Subject = "Our winter sale";
            message.MessageId = "winter-sale-2026@acme.test";
            message.Body = new TextPart("plain") { Text = "Everything half price." };
            using var raw = new MemoryStream();
            await message.WriteToAsync(new FormatOptions { NewLineFormat = NewLineFormat.Dos }, raw);
            using var sent = await client.PostAsJsonAsync(new Uri("/v1/emails/raw", UriKind.Relative),
                new { raw = Convert.ToBase64String(raw.ToArray()), mail_from = "news@acme.test", rcpt_to = new[] { "ann@example.test" } });
            Assert.Equal(HttpStatusCode.Accepted, sent.StatusCode);
            var id = (await sent.Content.ReadFromJsonAsync<JsonObject>())!["id"]!.GetValue<string>();
            await EmailApi.WaitForFinalStateAsync(client, id, Bounded);
            var received = await Eventually.GetAsync(() => Task.FromResult(recipients.Received.ToList()), r => r.Count == 1, Bounded, "the message at the recipients' server");

            // The feedback loop's report, returning the message as it arrived, to the address registered with the provider.
            using var report = Report(received[0].Raw, "ann@example.test");
            using (var smtp = new SmtpClient())
            {
                await smtp.ConnectAsync("127.0.0.1", postfix.Port, MailKit.Security.SecureSocketOptions.None);
                await smtp.SendAsync(report, MailboxAddress.Parse("feedbackloop@mail.example"), [MailboxAddress.Parse("fbl@bounce.acme.test")]);
                await smtp.DisconnectAsync(quit: true);
            }

            var email = await Eventually.GetAsync(
                async () => JsonNode.Parse(await client.GetStringAsync(new Uri($"/v1/emails/{id}", UriKind.Relative))),
                e => e?["events"]?.AsArray().Any(v => v?["type"]?.GetValue<string>() == "email.complained") == true,
                Bounded, $"email {id}'s complaint{Environment.NewLine}{postfix.Log}{Environment.NewLine}{platform.Logs}");
            var complaint = Assert.Single(email!["events"]!.AsArray(), e => e!["type"]!.GetValue<string>() == "email.complained")!;
            Assert.Equal("ann@example.test", complaint["recipient"]!.GetValue<string>());
            Assert.Equal("delivered", email["status"]!.GetValue<string>());
            var suppression = await client.GetFromJsonAsync<JsonObject>(new Uri("/v1/suppressions/ann@example.test", UriKind.Relative));
            Assert.Equal("complaint", suppression!["source"]!.GetValue<string>());
            // Postfix would have kept the report rather than send it in plain text.
            Assert.Contains($"TLS connection established to 127.0.0.1[127.0.0.1]:{listenerPort}", postfix.Log, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(certificates, recursive: true);
        }
    }

    private static MimeMessage Report(byte[] returned, string recipient)
    {
        var fields = new MimePart("message", "feedback-report")
        {
            Content = new MimeContent(new MemoryStream(Encoding.ASCII.GetBytes(
                $"Feedback-Type: abuse\r\nUser-Agent: ExampleMail-FBL/1.0\r\nVersion: 1\r\nOriginal-Rcpt-To: <{recipient}>\r\nReporting-MTA: dns; feedback.mail.example\r\n"))),
        };
        var report = new MimeMessage();
        report.From.Add(MailboxAddress.Parse("feedbackloop@mail.example"));
        report.To.Add(MailboxAddress.Parse("fbl@bounce.acme.test"));
        report.Subject = "Complaint about message from 127.0.0.1";
        report.Body = new MultipartReport("feedback-report")
        {
            new TextPart("plain") { Text = "This is an email abuse report." },
            fields,
            new MessagePart { Message = MimeMessage.Load(new MemoryStream(returned)) },
        };
        return report;
    }

    /// <summary>The listener's certificate and key, as a Kubernetes TLS secret holds them.</summary>
    private static (string Certificate, string Key) WriteCertificate(string directory)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=mx.bounce.acme.test", key, HashAlgorithmName.SHA256);
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        var paths = (Path.Combine(directory, "tls.crt"), Path.Combine(directory, "tls.key"));
        File.WriteAllText(paths.Item1, certificate.ExportCertificatePem());
        File.WriteAllText(paths.Item2, key.ExportPkcs8PrivateKeyPem());
        return paths;
    }
}
