using System.Security.Cryptography.X509Certificates;
using EmailPlatform.Delivery.Relays;
using EmailPlatform.Delivery.Sending;
using EmailPlatform.Delivery.Smtp;
using EmailPlatform.Delivery.Tests.Support;
using EmailPlatform.Testing;

namespace EmailPlatform.Delivery.Tests.Smtp;

/// <summary>
/// SMTP AUTH from a relay's <c>Username</c> and <c>Password</c>, against a real SMTP server over a socket that offers
/// AUTH over TLS only and takes no mail from a session that has not authenticated.
/// </summary>
public sealed class RelayAuthenticationTests : IAsyncLifetime
{
    private const string User = "relay-user";
    private const string Password = "relay-secret";

    private readonly X509Certificate2 _certificate = TestCertificates.SelfSigned();
    private ScriptedSmtpServer _implicitTls = null!;
    private ScriptedSmtpServer _startTls = null!;

    public async Task InitializeAsync()
    {
        _implicitTls = await ScriptedSmtpServer.StartAsync(security: new ScriptedSecurity(_certificate, Implicit: true, Login: (User, Password)));
        _startTls = await ScriptedSmtpServer.StartAsync(security: new ScriptedSecurity(_certificate, Login: (User, Password)));
    }

    public async Task DisposeAsync()
    {
        await _implicitTls.DisposeAsync();
        await _startTls.DisposeAsync();
        _certificate.Dispose();
    }

    [Theory]
    [InlineData(RelaySecurity.SslOnConnect)]
    [InlineData(RelaySecurity.StartTls)]
    public async Task RelayRequiringAuthDeliversWithTheConfiguredCredentials(RelaySecurity security)
    {
        var relay = security == RelaySecurity.SslOnConnect ? _implicitTls : _startTls;

        var outcome = await SendAsync(relay, security, User, Password);

        Assert.Equal(RecipientOutcomeKind.Delivered, outcome.Kind);
        var received = Assert.Single(relay.Received);
        Assert.Equal(User, received.User);
        Assert.True(received.Secure);
    }

    [Fact]
    public async Task WrongPasswordIsDeferredAsRefusedCredentialsWithNothingSent()
    {
        // A configuration problem, not the recipient's: deferred (retried, and counted against the relay), never bounced.
        var outcome = await SendAsync(_implicitTls, RelaySecurity.SslOnConnect, User, "not-the-password");

        Assert.Equal(RecipientOutcomeKind.Deferred, outcome.Kind);
        Assert.Equal("Relay 'scripted' refused the configured credentials.", outcome.Reason);
        Assert.True(outcome.RelayUnavailable);
        Assert.Empty(_implicitTls.Received);
    }

    /// <remarks>
    /// The relay answers the pipelined <c>MAIL FROM</c> with 530 and the <c>RCPT TO</c> sent with it with 501 (out of
    /// sequence: there is no transaction). That 501 is not the recipient's: it was bounced on it once.
    /// </remarks>
    [Fact]
    public async Task NoCredentialsForARelayRequiringAuthIsDeferredSayingSoWithNothingSent()
    {
        var outcome = await SendAsync(_implicitTls, RelaySecurity.SslOnConnect, user: null, password: null);

        Assert.Equal(RecipientOutcomeKind.Deferred, outcome.Kind);
        Assert.Equal("Relay 'scripted' requires authentication: configure its Username and Password.", outcome.Reason);
        Assert.True(outcome.RelayUnavailable);
        Assert.Null(outcome.Reply);
        Assert.Empty(_implicitTls.Received);
    }

    private async Task<RecipientOutcome> SendAsync(ScriptedSmtpServer server, RelaySecurity security, string? user, string? password)
    {
        var relay = TestRelays.Local(server.Port, security);
        relay.Username = user;
        relay.Password = password;
        relay.TrustedCertificate = _certificate.ExportCertificatePem();
        var email = TestEmails.Create();
        var outcomes = await TestRelays.Client()
            .SendAsync(relay, MimeMessageFactory.Create(email), email.Envelope, new SmtpAttempt(email.EmailId), CancellationToken.None)
            .WaitAsync(TimeSpan.FromSeconds(20));
        return Assert.Single(outcomes);
    }
}
