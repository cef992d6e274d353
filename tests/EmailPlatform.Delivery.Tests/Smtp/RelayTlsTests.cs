using System.Security.Cryptography.X509Certificates;
using EmailPlatform.Delivery.Relays;
using EmailPlatform.Delivery.Sending;
using EmailPlatform.Delivery.Smtp;
using EmailPlatform.Delivery.Tests.Support;
using EmailPlatform.Testing;

namespace EmailPlatform.Delivery.Tests.Smtp;

/// <summary>
/// A relay's <c>Security</c> against a real SMTP server over a socket, whose self-signed certificate (made here) the
/// relay's <c>TrustedCertificate</c> pins or does not: implicit TLS (<c>SslOnConnect</c>) and opportunistic STARTTLS
/// (<c>Auto</c>: TLS when the relay offers it, plain text only when it does not).
/// </summary>
public sealed class RelayTlsTests : IDisposable
{
    private readonly X509Certificate2 _certificate = TestCertificates.SelfSigned();

    public void Dispose() => _certificate.Dispose();

    [Fact]
    public async Task SslOnConnectToARelayWithImplicitTlsWhoseCertificateIsTrustedDeliversOverTls()
    {
        await using var relay = await ScriptedSmtpServer.StartAsync(security: new ScriptedSecurity(_certificate, Implicit: true));

        var outcome = await SendAsync(relay.Port, RelaySecurity.SslOnConnect, trusted: true);

        Assert.Equal(RecipientOutcomeKind.Delivered, outcome.Kind);
        Assert.True(Assert.Single(relay.Received).Secure);
    }

    [Fact]
    public async Task SslOnConnectToARelayWhoseCertificateIsNotTrustedIsDeferredWithNothingSent()
    {
        await using var relay = await ScriptedSmtpServer.StartAsync(security: new ScriptedSecurity(_certificate, Implicit: true));

        var outcome = await SendAsync(relay.Port, RelaySecurity.SslOnConnect, trusted: false);

        Assert.Equal(RecipientOutcomeKind.Deferred, outcome.Kind);
        Assert.Contains("its certificate is not trusted", outcome.Reason, StringComparison.Ordinal);
        Assert.Empty(relay.Received);
    }

    [Fact]
    public async Task AutoUsesStartTlsWhenTheRelayOffersIt()
    {
        await using var relay = await ScriptedSmtpServer.StartAsync(security: new ScriptedSecurity(_certificate));

        var outcome = await SendAsync(relay.Port, RelaySecurity.Auto, trusted: true);

        Assert.Equal(RecipientOutcomeKind.Delivered, outcome.Kind);
        Assert.True(Assert.Single(relay.Received).Secure);
    }

    [Fact]
    public async Task AutoSendsInPlainTextToARelayThatOffersNoStartTls()
    {
        await using var relay = await ScriptedSmtpServer.StartAsync();

        var outcome = await SendAsync(relay.Port, RelaySecurity.Auto, trusted: true);

        Assert.Equal(RecipientOutcomeKind.Delivered, outcome.Kind);
        Assert.False(Assert.Single(relay.Received).Secure);
    }

    [Fact]
    public async Task AutoToARelayOfferingStartTlsWithAnUntrustedCertificateIsDeferredNotSentInPlainText()
    {
        // Opportunistic means "TLS when offered", not "TLS when it validates": a failed handshake never falls back.
        await using var relay = await ScriptedSmtpServer.StartAsync(security: new ScriptedSecurity(_certificate));

        var outcome = await SendAsync(relay.Port, RelaySecurity.Auto, trusted: false);

        Assert.Equal(RecipientOutcomeKind.Deferred, outcome.Kind);
        Assert.Contains("its certificate is not trusted", outcome.Reason, StringComparison.Ordinal);
        Assert.Empty(relay.Received);
    }

    private async Task<RecipientOutcome> SendAsync(int port, RelaySecurity security, bool trusted)
    {
        var relay = TestRelays.Local(port, security);
        relay.TrustedCertificate = trusted ? _certificate.ExportCertificatePem() : null;
        var email = TestEmails.Create();
        var outcomes = await TestRelays.Client()
            .SendAsync(relay, MimeMessageFactory.Create(email), email.Envelope, new SmtpAttempt(email.EmailId), CancellationToken.None)
            .WaitAsync(TimeSpan.FromSeconds(20));
        return Assert.Single(outcomes);
    }
}
