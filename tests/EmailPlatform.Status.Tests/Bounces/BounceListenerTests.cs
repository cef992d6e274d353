using System.Globalization;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using EmailPlatform.Status.Bounces;
using EmailPlatform.Status.Storage;
using EmailPlatform.Status.Tests.Support;
using EmailPlatform.Testing;
using MailKit.Net.Smtp;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using MimeKit;
using static EmailPlatform.Status.Tests.Support.BounceReports;

namespace EmailPlatform.Status.Tests.Bounces;

/// <summary>
/// The bounce listener (<c>Status:BounceListener</c>) over a real socket, with MailKit as the MTA that sends the bounce
/// back: a report is recorded before its 250, anything else is refused, and a report that cannot be recorded now is
/// answered 451 so that its sender keeps it.
/// </summary>
public sealed class BounceListenerTests
{
    private const string Gina = "gina@small-isp.example";

    [Fact]
    public async Task AReportSentToTheReturnPathIsRecordedBeforeItIsAnswered250()
    {
        var port = ServiceProcess.FreeTcpPort();
        await using var api = await StatusApi.StartAsync(Listener(port));
        var emailId = Guid.NewGuid();
        await api.RecordAsync(TestEvents.Accepted(emailId, to: [Gina]), TestEvents.Delivered(emailId, Gina));
        var returnPath = $"bounces+{emailId:N}@bounce.acme.test";

        var reply = await SendAsync(port, returnPath, WithoutTheMessage(returnPath, Gina));

        Assert.StartsWith($"2.0.0 Bounce report for email {emailId} recorded", reply, StringComparison.Ordinal);
        // Recorded by the time of the 250, not some time after it.
        var recipient = await api.WithStoreAsync(db => db.Recipients.SingleAsync(r => r.EmailId == emailId));
        Assert.Equal((EmailState.Bounced, 550, "5.2.1"), (recipient.State, recipient.SmtpCode, recipient.EnhancedCode));
    }

    [Fact]
    public async Task AComplaintFromAFeedbackLoopIsRecordedAsOneBeforeItIsAnswered250()
    {
        var port = ServiceProcess.FreeTcpPort();
        await using var api = await StatusApi.StartAsync(Listener(port));
        var emailId = Guid.NewGuid();
        await api.RecordAsync(TestEvents.Accepted(emailId, to: [Gina]), TestEvents.Delivered(emailId, Gina));

        // The feedback loop's reports go to an address of the bounce domain, as its bounces do.
        var reply = await SendAsync(port, "fbl@bounce.acme.test", ComplaintReports.Redacted($"bounces+{emailId:N}@bounce.acme.test"));

        Assert.StartsWith($"2.0.0 Complaint report for email {emailId} recorded", reply, StringComparison.Ordinal);
        var complaint = await api.WithStoreAsync(db => db.Events.SingleAsync(e => e.EmailId == emailId && e.Type == "email.complained"));
        Assert.Equal(Gina, complaint.Recipient);
        Assert.Equal(EmailState.Delivered, await api.WithStoreAsync(db => db.Recipients.Where(r => r.EmailId == emailId).Select(r => r.State).SingleAsync()));
        Assert.Equal("complaint", await api.WithStoreAsync(db => db.Suppressions.Where(s => s.Address == Gina).Select(s => s.Source).SingleAsync()));

        // Sent again by an MTA that did not see the 250: recorded before, answered 250 all the same.
        Assert.StartsWith($"2.0.0 Complaint report for email {emailId} already recorded",
            await SendAsync(port, "fbl@bounce.acme.test", ComplaintReports.Redacted($"bounces+{emailId:N}@bounce.acme.test")), StringComparison.Ordinal);
    }

    [Fact]
    public async Task RecipientsOutsideItsDomainsAndMessagesThatAreNotReportsAboutEmailsSentHereAreRefusedOrKeptForLater()
    {
        var port = ServiceProcess.FreeTcpPort();
        await using var api = await StatusApi.StartAsync(Listener(port));
        var emailId = Guid.NewGuid();
        await api.RecordAsync(TestEvents.Accepted(emailId, to: [Gina]), TestEvents.Delivered(emailId, Gina));
        var returnPath = $"bounces+{emailId:N}@bounce.acme.test";

        // It relays nothing: a recipient in another domain is refused at RCPT TO.
        var relayed = await Assert.ThrowsAsync<SmtpCommandException>(() => SendAsync(port, "someone@example.com", WithoutTheMessage("someone@example.com", Gina)));
        Assert.Equal((SmtpErrorCode.RecipientNotAccepted, 550), (relayed.ErrorCode, (int)relayed.StatusCode));

        var autoreply = await Assert.ThrowsAsync<SmtpCommandException>(() => SendAsync(port, returnPath,
            $"From: {Gina}\r\nTo: {returnPath}\r\nSubject: Out of office\r\n\r\nBack on Monday.\r\n"));
        Assert.Equal(550, (int)autoreply.StatusCode);
        Assert.StartsWith("5.6.0 Not a delivery status notification", autoreply.Message, StringComparison.Ordinal);

        var stranger = $"bounces+{Guid.NewGuid():N}@bounce.acme.test";
        var unknown = await Assert.ThrowsAsync<SmtpCommandException>(() => SendAsync(port, stranger, WithoutTheMessage(stranger, Gina)));
        Assert.Equal(550, (int)unknown.StatusCode);
        Assert.StartsWith("5.1.0 The report names no email sent here", unknown.Message, StringComparison.Ordinal);

        // An email accepted moments ago whose accept is not recorded yet: kept by its sender for later, not refused for good.
        var early = $"bounces+{Guid.CreateVersion7():N}@bounce.acme.test";
        var notYet = await Assert.ThrowsAsync<SmtpCommandException>(() => SendAsync(port, early, WithoutTheMessage(early, Gina)));
        Assert.Equal(451, (int)notYet.StatusCode);

        Assert.Equal(EmailState.Delivered, await api.WithStoreAsync(db => db.Recipients.Where(r => r.EmailId == emailId).Select(r => r.State).SingleAsync()));
    }

    [Fact]
    public async Task AReportThatCannotBeRecordedNowIsAnswered451AndRecordedWhenSentAgain()
    {
        var port = ServiceProcess.FreeTcpPort();
        var storeAway = false;
        // The recorder's first statement in every batch locks its emails: failing it fails the record.
        var failing = new FailingCommands(sql => Volatile.Read(ref storeAway) && sql.Contains("FOR UPDATE", StringComparison.Ordinal));
        await using var api = await StatusApi.StartAsync(Listener(port), services: s =>
            s.ConfigureDbContext<PostgresStatusDbContext>(o => o.AddInterceptors(failing), ServiceLifetime.Singleton));
        var emailId = Guid.NewGuid();
        await api.RecordAsync(TestEvents.Accepted(emailId, to: [Gina]), TestEvents.Delivered(emailId, Gina));
        var returnPath = $"bounces+{emailId:N}@bounce.acme.test";
        var report = WithoutTheMessage(returnPath, Gina);

        Volatile.Write(ref storeAway, true);
        var deferred = await Assert.ThrowsAsync<SmtpCommandException>(() => SendAsync(port, returnPath, report));
        Assert.Equal(451, (int)deferred.StatusCode);
        Assert.True(failing.Failures > 0);
        Assert.Equal(EmailState.Delivered, await api.WithStoreAsync(db => db.Recipients.Where(r => r.EmailId == emailId).Select(r => r.State).SingleAsync()));

        Volatile.Write(ref storeAway, false);
        Assert.StartsWith("2.0.0", await SendAsync(port, returnPath, report), StringComparison.Ordinal);
        Assert.Equal(EmailState.Bounced, await api.WithStoreAsync(db => db.Recipients.Where(r => r.EmailId == emailId).Select(r => r.State).SingleAsync()));
    }

    [Fact]
    public async Task ASessionPastMaxSessionsWaitsForItsGreetingUntilAnOpenOneEnds()
    {
        var port = ServiceProcess.FreeTcpPort();
        await using var api = await StatusApi.StartAsync(new Dictionary<string, string>(Listener(port)) { ["Status:BounceListener:MaxSessions"] = "1" });
        using var first = new SmtpClient();
        await first.ConnectAsync("127.0.0.1", port, MailKit.Security.SecureSocketOptions.None);

        using var second = new SmtpClient();
        using (var shortWait = new CancellationTokenSource(TimeSpan.FromSeconds(2)))
        {
            // Connected by the kernel, but not greeted: the listener takes it from the listen queue only when a place frees.
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => second.ConnectAsync("127.0.0.1", port, MailKit.Security.SecureSocketOptions.None, shortWait.Token));
        }

        await first.DisconnectAsync(quit: true);
        using var third = new SmtpClient();
        using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await third.ConnectAsync("127.0.0.1", port, MailKit.Security.SecureSocketOptions.None, wait.Token);
        Assert.True(third.IsConnected);
        await third.DisconnectAsync(quit: true);
    }

    [Fact]
    public async Task WithACertificateItOffersStartTlsAndARenewedCertificateIsOfferedToTheNextSession()
    {
        var port = ServiceProcess.FreeTcpPort();
        var directory = Directory.CreateTempSubdirectory("emailplatform-bounce-tls-").FullName;
        try
        {
            var (certificatePath, keyPath) = (Path.Combine(directory, "tls.crt"), Path.Combine(directory, "tls.key"));
            using var first = WritePem(certificatePath, keyPath, "CN=mx1.bounce.acme.test");
            await using var api = await StatusApi.StartAsync(new Dictionary<string, string>(Listener(port))
            {
                ["Status:BounceListener:CertificatePath"] = certificatePath,
                ["Status:BounceListener:CertificateKeyPath"] = keyPath,
            });
            var emailId = Guid.NewGuid();
            await api.RecordAsync(TestEvents.Accepted(emailId, to: [Gina]), TestEvents.Delivered(emailId, Gina));
            var returnPath = $"bounces+{emailId:N}@bounce.acme.test";

            // A sender that insists on STARTTLS gets it, with the configured certificate, and its report is recorded.
            var (reply, offered) = await SendOverStartTlsAsync(port, returnPath, WithoutTheMessage(returnPath, Gina));
            Assert.StartsWith($"2.0.0 Bounce report for email {emailId} recorded", reply, StringComparison.Ordinal);
            Assert.Equal(first.Thumbprint, offered);
            Assert.Equal(EmailState.Bounced, await api.WithStoreAsync(db => db.Recipients.Where(r => r.EmailId == emailId).Select(r => r.State).SingleAsync()));

            // Renewed in place: the next session gets the new one, without a restart.
            using var renewed = WritePem(certificatePath, keyPath, "CN=mx1.bounce.acme.test");
            File.SetLastWriteTimeUtc(certificatePath, DateTime.UtcNow.AddMinutes(1));
            var (_, offeredAfter) = await SendOverStartTlsAsync(port, returnPath, WithoutTheMessage(returnPath, Gina));
            Assert.Equal(renewed.Thumbprint, offeredAfter);

            // A sender without TLS is still taken: STARTTLS is offered, not required.
            Assert.StartsWith("2.0.0", await SendAsync(port, returnPath, WithoutTheMessage(returnPath, Gina)), StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public async Task ACertificateWithoutItsKeyOrOneThatCannotBeReadStopsTheServiceAtStart()
    {
        var directory = Directory.CreateTempSubdirectory("emailplatform-bounce-tls-").FullName;
        try
        {
            var garbage = Path.Combine(directory, "tls.crt");
            await File.WriteAllTextAsync(garbage, "not a certificate");

            var halfSet = await StartFailureAsync(new() { ["Status:BounceListener:CertificatePath"] = garbage });
            var unreadable = await StartFailureAsync(new()
            {
                ["Status:BounceListener:CertificatePath"] = garbage,
                ["Status:BounceListener:CertificateKeyPath"] = Path.Combine(directory, "missing.key"),
            });

            Assert.Contains("Status:BounceListener:CertificatePath and Status:BounceListener:CertificateKeyPath go together", Assert.IsType<OptionsValidationException>(halfSet).Message,
                StringComparison.Ordinal);
            Assert.Contains($"Status:BounceListener:CertificatePath ({garbage}) and Status:BounceListener:CertificateKeyPath", unreadable.Message, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    private static async Task<Exception> StartFailureAsync(Dictionary<string, string> settings)
    {
        var error = await Record.ExceptionAsync(async () =>
        {
            await using var api = await StatusApi.StartAsync(new Dictionary<string, string>(Listener(ServiceProcess.FreeTcpPort())).Concat(settings)
                .ToDictionary(p => p.Key, p => p.Value));
            api.CreateClient().Dispose();
        });
        return Assert.IsAssignableFrom<Exception>(error);
    }

    /// <summary>A new self-signed certificate and key, written as PEM the way a Kubernetes TLS secret holds them.</summary>
    private static X509Certificate2 WritePem(string certificatePath, string keyPath, string subject)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
        var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        File.WriteAllText(certificatePath, certificate.ExportCertificatePem());
        File.WriteAllText(keyPath, key.ExportPkcs8PrivateKeyPem());
        return certificate;
    }

    /// <summary>Sends <paramref name="report"/> over a session that must be upgraded by STARTTLS; returns the answer and the certificate offered.</summary>
    private static async Task<(string Reply, string? Thumbprint)> SendOverStartTlsAsync(int port, string to, string report)
    {
        using var message = MimeMessage.Load(new MemoryStream(Encoding.UTF8.GetBytes(report)));
        using var smtp = new SmtpClient();
        string? offered = null;
        smtp.ServerCertificateValidationCallback = (_, certificate, _, _) =>
        {
            offered = certificate is null ? null : new X509Certificate2(certificate).Thumbprint;
            return true; // self-signed: the test checks which one it was
        };
        await smtp.ConnectAsync("127.0.0.1", port, MailKit.Security.SecureSocketOptions.StartTls);
        Assert.True(smtp.IsSecure);
        var answer = await smtp.SendAsync(message, new MailboxAddress("", ""), [MailboxAddress.Parse(to)]);
        await smtp.DisconnectAsync(quit: true);
        return (answer, offered);
    }

    [Fact]
    public async Task WithoutAPortThereIsNoListenerAndAPortWithoutDomainsStopsTheServiceAtStart()
    {
        await using (var api = await StatusApi.StartAsync())
        {
            Assert.Null(api.Services.GetRequiredService<BounceListener>().Endpoint);
        }

        var error = await Record.ExceptionAsync(async () =>
        {
            await using var api = await StatusApi.StartAsync(new Dictionary<string, string>
            {
                ["Status:BounceListener:Port"] = ServiceProcess.FreeTcpPort().ToString(CultureInfo.InvariantCulture),
            });
            api.CreateClient().Dispose();
        });

        var refused = Assert.IsType<OptionsValidationException>(error);
        Assert.Contains("Status:BounceListener:Domains must name the domains", refused.Message, StringComparison.Ordinal);
    }

    private static Dictionary<string, string> Listener(int port) => new()
    {
        ["Status:BounceListener:Port"] = port.ToString(CultureInfo.InvariantCulture),
        ["Status:BounceListener:Address"] = "127.0.0.1",
        ["Status:BounceListener:Domains:0"] = "bounce.acme.test",
    };

    /// <summary>Sends <paramref name="report"/> as an MTA sends a bounce (null sender) and returns the listener's final answer.</summary>
    private static async Task<string> SendAsync(int port, string to, string report)
    {
        using var message = MimeMessage.Load(new MemoryStream(Encoding.UTF8.GetBytes(report)));
        using var smtp = new SmtpClient();
        await smtp.ConnectAsync("127.0.0.1", port, MailKit.Security.SecureSocketOptions.None);
        var answer = await smtp.SendAsync(message, new MailboxAddress("", ""), [MailboxAddress.Parse(to)]);
        await smtp.DisconnectAsync(quit: true);
        return answer;
    }
}
