using EmailPlatform.Contracts;
using EmailPlatform.Delivery.Tests.Support;
using EmailPlatform.Testing;
using MassTransit.Testing;
using MimeKit;

namespace EmailPlatform.Delivery.Tests.Relays;

/// <summary>
/// A real Postfix relay requiring nothing but offering STARTTLS with a self-signed certificate: the worker with
/// <c>Security=StartTls</c> delivers through it when the certificate is trusted by configuration, and sends nothing
/// when it is not (certificate validation is on by default).
/// </summary>
public sealed class PostfixStartTlsTests : IAsyncLifetime
{
    private ScriptedSmtpServer _downstream = null!;
    private PostfixRelay _postfix = null!;

    public async Task InitializeAsync()
    {
        _downstream = await ScriptedSmtpServer.StartAsync();
        _postfix = await PostfixRelay.StartAsync(_downstream.Port);
    }

    public async Task DisposeAsync()
    {
        await _postfix.DisposeAsync();
        await _downstream.DisposeAsync();
    }

    [Theory]
    [InlineData("file")]
    [InlineData("inline")]
    public async Task StartTlsToPostfixWhoseSelfSignedCertificateIsTrustedByConfigurationDelivers(string given)
    {
        await using var host = await StartWorkerAsync(given == "file"
            ? new() { ["Delivery:Relays:0:TrustedCertificateFile"] = _postfix.CertificateFile }
            : new() { ["Delivery:Relays:0:TrustedCertificate"] = _postfix.CertificatePem });
        var email = TestEmails.Create();

        await host.SendAsync(email);

        var delivered = Assert.Single(await host.WaitForAsync<EmailDelivered>(d => d.Count == 1, "the delivery through Postfix"));
        Assert.Equal(250, delivered.Reply?.Code);
        var arrived = await Eventually.GetAsync(() => Task.FromResult(_downstream.Received.ToList()), r => r.Count == 1,
            TimeSpan.FromSeconds(60), "Postfix to relay the message on");
        var message = MimeMessage.Load(new MemoryStream(arrived[0].Raw));
        Assert.Equal(email.MessageId, message.MessageId);
        // Postfix notes the TLS session it received the message over (smtpd_tls_received_header).
        Assert.Contains(message.Headers.Where(h => h.Id == HeaderId.Received), h => h.Value.Contains("using TLS", StringComparison.Ordinal));
    }

    [Fact]
    public async Task StartTlsToPostfixWhoseCertificateIsNotTrustedIsDeferredWithNothingSent()
    {
        await using var host = await StartWorkerAsync([]);
        var email = TestEmails.Create();

        await host.SendAsync(email);

        var deferred = Assert.Single(await host.WaitForAsync<EmailDeferred>(d => d.Count == 1, "the deferral"));
        Assert.Contains("certificate is not trusted", deferred.Reason, StringComparison.Ordinal);
        Assert.False(await host.Harness.Published.Any<EmailDelivered>());
        Assert.DoesNotContain("from=<", _postfix.Log, StringComparison.Ordinal);
        Assert.Empty(_downstream.Received);
    }

    private Task<DeliveryHost> StartWorkerAsync(Dictionary<string, string?> trust)
    {
        var settings = new Dictionary<string, string?>(trust)
        {
            ["Delivery:Relays:0:Port"] = _postfix.Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Delivery:Relays:0:Security"] = "StartTls",
        };
        return DeliveryHost.StartAsync(_postfix.Port, settings: settings);
    }
}
