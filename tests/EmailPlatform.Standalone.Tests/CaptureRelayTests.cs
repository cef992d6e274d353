using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using EmailPlatform.Ingress;
using EmailPlatform.Standalone.Capture;
using EmailPlatform.Testing;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace EmailPlatform.Standalone.Tests;

/// <summary>What the built-in capture relay writes: the envelope, then the message as sent.</summary>
public sealed class CaptureRelayTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("emailplatform-capture-").FullName;
    private readonly string _apiKey = TestInfrastructure.NewApiKey();

    [Fact]
    public async Task TheCapturedFileStartsWithTheEnvelopeAndEndsWithTheMessagesLastLine()
    {
        var data = Path.Combine(_root, "data");
        await using var host = StandaloneHost.Create(data, _apiKey, ServiceProcess.FreeTcpPort());
        using var client = StandaloneHost.Client(host, _apiKey);

        var id = await SendAsync(client, new
        {
            from = "Acme <hello@acme.test>", to = "ann@example.test", cc = "bea@example.test", bcc = "cat@example.test", subject = "Envelope", text = "Hi.",
        });
        await StandaloneHost.WaitForStatusAsync(client, id, "delivered", TimeSpan.FromSeconds(60));

        var raw = await File.ReadAllBytesAsync(Assert.Single(Directory.GetFiles(Path.Combine(data, "mail"), "*.eml")));
        var text = Encoding.UTF8.GetString(raw);
        var lines = text.Split("\r\n");
        Assert.Equal("X-Envelope-From: <hello@acme.test>", lines[0]);
        Assert.Equal(
            ["X-Envelope-To: <ann@example.test>", "X-Envelope-To: <bea@example.test>", "X-Envelope-To: <cat@example.test>"],
            lines.Skip(1).TakeWhile(l => l.StartsWith("X-Envelope-To: ", StringComparison.Ordinal)).Order(StringComparer.Ordinal));
        Assert.EndsWith("\r\n", text, StringComparison.Ordinal);

        // The rest is the message as sent: its own headers name no Bcc, and it parses whole.
        using var message = MimeKit.MimeMessage.Load(new MemoryStream(raw));
        Assert.Equal("Envelope", message.Subject);
        Assert.Empty(message.Bcc);
        Assert.Equal("Hi.", message.TextBody?.TrimEnd());
    }

    [Fact]
    public async Task MailIsStillCapturedAfterTheMailFolderIsRemovedWhileTheHostRuns()
    {
        var data = Path.Combine(_root, "data");
        var mail = Path.Combine(data, "mail");
        await using var host = StandaloneHost.Create(data, _apiKey, ServiceProcess.FreeTcpPort());
        using var client = StandaloneHost.Client(host, _apiKey);
        var first = await SendAsync(client, new { from = "hello@acme.test", to = "ann@example.test", subject = "Before", text = "Hi." });
        await StandaloneHost.WaitForStatusAsync(client, first, "delivered", TimeSpan.FromSeconds(60));

        // rm -rf data/mail, to clear what was captured.
        Directory.Delete(mail, recursive: true);

        var second = await SendAsync(client, new { from = "hello@acme.test", to = "bea@example.test", subject = "After", text = "Hi." });
        await StandaloneHost.WaitForStatusAsync(client, second, "delivered", TimeSpan.FromSeconds(60));
        using var message = MimeKit.MimeMessage.Load(Assert.Single(Directory.GetFiles(mail, "*.eml")));
        Assert.Equal("After", message.Subject);
        Assert.Empty(Directory.GetFiles(mail, "*.tmp"));
    }

    [Fact]
    public async Task AMessageTheRelayCannotWriteIsDeferredWithA4xxAndSentOnceItCan()
    {
        var data = Path.Combine(_root, "data");
        var mail = Path.Combine(data, "mail");
        await using var host = StandaloneHost.Create(data, _apiKey, ServiceProcess.FreeTcpPort(),
            web => web.UseSetting("Delivery:RetrySchedule:0", "00:00:02"));
        using var client = StandaloneHost.Client(host, _apiKey);

        // A file where the folder should be: no message can be written into it (as with a disk that is full, or a
        // folder the host may not write to, which root, running these tests, always may).
        Directory.Delete(mail, recursive: true);
        await File.WriteAllTextAsync(mail, "not a folder");

        var id = await SendAsync(client, new { from = "hello@acme.test", to = "ann@example.test", subject = "Later", text = "Hi." });
        var deferred = await StandaloneHost.WaitForStatusAsync(client, id, "deferred", TimeSpan.FromSeconds(60));
        var reply = deferred!["events"]!.AsArray().Last()!["smtp"]!;
        Assert.Equal((451, "4.3.0"), (reply["code"]!.GetValue<int>(), reply["enhanced_code"]!.GetValue<string>()));

        File.Delete(mail);
        await StandaloneHost.WaitForStatusAsync(client, id, "delivered", StandaloneHost.DeliveryWait);
        Assert.Single(Directory.GetFiles(mail, "*.eml"));
    }

    [Fact]
    public async Task ARelayTheHostDisposesBeforeStoppingItStopsWithoutErrorAndClosesItsListener()
    {
        // A host stopped twice at once (WebApplicationFactory's stop racing the application's own RunAsync, which disposes
        // the host once its stop is done) disposed the relay before the other stop reached it: that stop threw
        // ObjectDisposedException and failed the test disposing the host.
        var port = ServiceProcess.FreeTcpPort();
        var relay = new CaptureRelay(
            new StandaloneOptions { DataDirectory = Path.Combine(_root, "data"), CaptureRelayPort = port },
            Options.Create(new IngressOptions()), NullLogger<CaptureRelay>.Instance);
        await relay.StartAsync(CancellationToken.None);

        relay.Dispose();
        await relay.StopAsync(CancellationToken.None);

        await Eventually.GetAsync(
            async () =>
            {
                using var probe = new TcpClient();
                try
                {
                    await probe.ConnectAsync(IPAddress.Loopback, port);
                    return false;
                }
                catch (SocketException)
                {
                    return true;
                }
            },
            refused => refused, TimeSpan.FromSeconds(10), "the disposed relay's port to refuse connections");
    }

    private static async Task<string> SendAsync(HttpClient client, object email)
    {
        using var response = await client.PostAsJsonAsync("/v1/emails", email);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        return JsonNode.Parse(await response.Content.ReadAsStringAsync())!["id"]!.GetValue<string>();
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);
}
