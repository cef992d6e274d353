using System.Security.Cryptography;
using EmailPlatform.Contracts;
using EmailPlatform.Delivery.Dkim;
using EmailPlatform.Delivery.Relays;
using EmailPlatform.Delivery.Tests.Support;
using EmailPlatform.Testing;
using MimeKit;
using MimeKit.Cryptography;
using Org.BouncyCastle.Crypto;

namespace EmailPlatform.Delivery.Tests.Dkim;

/// <summary>DKIM signing per sender domain, verified on the message as the SMTP server received it.</summary>
public sealed class DkimSigningTests : IAsyncLifetime
{
    private readonly RSA _key = RSA.Create(2048);
    private ScriptedSmtpServer _relay = null!;

    public async Task InitializeAsync() => _relay = await ScriptedSmtpServer.StartAsync();

    public async Task DisposeAsync()
    {
        await _relay.DisposeAsync();
        _key.Dispose();
    }

    [Fact]
    public async Task MessageFromASigningDomainArrivesWithASignatureThatVerifiesWithThePublicKey()
    {
        var email = TestEmails.Create(to: ["alice@example.com"], subject: "Ünïcode receipt");
        await using var host = await DeliveryHost.StartAsync(_relay.Port, settings: new Dictionary<string, string?>
        {
            ["Delivery:Dkim:0:Domain"] = "acme.example",
            ["Delivery:Dkim:0:Selector"] = "mail2026",
            ["Delivery:Dkim:0:PrivateKey"] = _key.ExportRSAPrivateKeyPem(),
        });

        await host.SendAsync(email);
        await host.WaitForAsync<EmailDelivered>(d => d.Count == 1, "the delivery");

        var received = MimeMessage.Load(new MemoryStream(Assert.Single(_relay.Received).Raw));
        var index = received.Headers.IndexOf(HeaderId.DkimSignature);
        Assert.True(index >= 0, "no DKIM-Signature header");
        var signature = received.Headers[index].Value;
        Assert.Contains("d=acme.example", signature, StringComparison.Ordinal);
        Assert.Contains("s=mail2026", signature, StringComparison.Ordinal);
        Assert.Contains("c=relaxed/relaxed", signature, StringComparison.Ordinal);
        Assert.Contains("a=rsa-sha256", signature, StringComparison.Ordinal);
        Assert.Contains("message-id", signature.ToLowerInvariant(), StringComparison.Ordinal);
        Assert.True(new DkimVerifier(new Locator(_key)).Verify(received, received.Headers[index]), "the signature does not verify");

        // Tampering with a signed header breaks it: the check above is a real one.
        received.Subject = "Changed";
        Assert.False(new DkimVerifier(new Locator(_key)).Verify(received, received.Headers[received.Headers.IndexOf(HeaderId.DkimSignature)]));
    }

    [Fact]
    public async Task KeyFromAMountedFileSignsSoThatTheReceivedMessageVerifies()
    {
        var keyFile = Path.Combine(Path.GetTempPath(), $"dkim-{Guid.NewGuid():N}.pem");
        await File.WriteAllTextAsync(keyFile, _key.ExportPkcs8PrivateKeyPem());
        try
        {
            await using var host = await DeliveryHost.StartAsync(_relay.Port, settings: new Dictionary<string, string?>
            {
                ["Delivery:Dkim:0:Domain"] = "acme.example",
                ["Delivery:Dkim:0:Selector"] = "mail2026",
                ["Delivery:Dkim:0:PrivateKeyFile"] = keyFile,
            });

            await host.SendAsync(TestEmails.Create());
            await host.WaitForAsync<EmailDelivered>(d => d.Count == 1, "the delivery");
        }
        finally
        {
            File.Delete(keyFile);
        }

        var received = MimeMessage.Load(new MemoryStream(Assert.Single(_relay.Received).Raw));
        var index = received.Headers.IndexOf(HeaderId.DkimSignature);
        Assert.True(index >= 0, "no DKIM-Signature header");
        Assert.Contains("d=acme.example;", received.Headers[index].Value, StringComparison.Ordinal);
        Assert.True(new DkimVerifier(new Locator(_key)).Verify(received, received.Headers[index]), "the signature does not verify");
    }

    [Theory]
    [InlineData("xn--bcher-kva.example", "billing@xn--bcher-kva.example")]
    [InlineData("xn--bcher-kva.example", "Billing <billing@bücher.example>")]
    [InlineData("bücher.example", "billing@xn--bcher-kva.example")]
    [InlineData("bücher.example", "Billing <billing@bücher.example>")]
    public async Task MessageFromAnInternationalizedDomainIsSignedForItsALabelWhicheverWayEitherIsWritten(string configured, string from)
    {
        // MimeKit reads the From domain in Unicode; the key is configured in either form, and d= is the DNS form, where
        // the selector's TXT record lives.
        var email = TestEmails.Create(to: ["alice@example.com"]) with { From = from };
        await using var host = await DeliveryHost.StartAsync(_relay.Port, settings: new Dictionary<string, string?>
        {
            ["Delivery:Dkim:0:Domain"] = configured,
            ["Delivery:Dkim:0:Selector"] = "mail2026",
            ["Delivery:Dkim:0:PrivateKey"] = _key.ExportRSAPrivateKeyPem(),
        });

        await host.SendAsync(email);
        await host.WaitForAsync<EmailDelivered>(d => d.Count == 1, "the delivery");

        var received = MimeMessage.Load(new MemoryStream(Assert.Single(_relay.Received).Raw));
        var index = received.Headers.IndexOf(HeaderId.DkimSignature);
        Assert.True(index >= 0, "no DKIM-Signature header");
        Assert.Contains("d=xn--bcher-kva.example;", received.Headers[index].Value, StringComparison.Ordinal);
        var locator = new Locator(_key);
        Assert.True(new DkimVerifier(locator).Verify(received, received.Headers[index]), "the signature does not verify");
        Assert.Equal(("xn--bcher-kva.example", "mail2026"), locator.LookedUp);
    }

    [Fact]
    public async Task MessageFromADomainWithoutAKeyIsSentUnsigned()
    {
        await using var host = await DeliveryHost.StartAsync(_relay.Port, settings: new Dictionary<string, string?>
        {
            ["Delivery:Dkim:0:Domain"] = "other.example",
            ["Delivery:Dkim:0:Selector"] = "s1",
            ["Delivery:Dkim:0:PrivateKey"] = _key.ExportRSAPrivateKeyPem(),
        });

        await host.SendAsync(TestEmails.Create());
        await host.WaitForAsync<EmailDelivered>(d => d.Count == 1, "the delivery");

        var received = MimeMessage.Load(new MemoryStream(Assert.Single(_relay.Received).Raw));
        Assert.Equal(-1, received.Headers.IndexOf(HeaderId.DkimSignature));
    }

    [Fact]
    public void UnreadableKeyOrMissingKeyFailsValidationNamingTheKey()
    {
        var options = new DeliveryOptions
        {
            Relays = [new() { Name = "a", Host = "smtp.a" }],
            Dkim =
            [
                new DkimKeyOptions { Domain = "acme.example", Selector = "s1", PrivateKey = "-----BEGIN RSA PRIVATE KEY-----\nnot a key\n-----END RSA PRIVATE KEY-----" },
                new DkimKeyOptions { Domain = "b.example", Selector = "s1" },
            ],
        };

        var failures = new DeliveryOptionsValidator().Validate(null, options).Failures!.ToList();

        Assert.Contains(failures, f => f.StartsWith("Delivery:Dkim:0: the private key for 'acme.example' could not be read", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.StartsWith("Delivery:Dkim:1: set exactly one of Delivery:Dkim:1:PrivateKey", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("acme.example", "ACME.example")]
    [InlineData("bücher.example", "xn--bcher-kva.example")]
    [InlineData("xn--bcher-kva.example", "BÜCHER.example")]
    public void OneDomainConfiguredTwiceInAnySpellingFailsValidation(string first, string second)
    {
        var options = new DeliveryOptions
        {
            Relays = [new() { Name = "a", Host = "smtp.a" }],
            Dkim =
            [
                new DkimKeyOptions { Domain = first, Selector = "s1", PrivateKeyFile = "/keys/first.pem" },
                new DkimKeyOptions { Domain = second, Selector = "s2", PrivateKeyFile = "/keys/second.pem" },
            ],
        };

        var failures = new DeliveryOptionsValidator().Validate(null, options).Failures!.ToList();

        Assert.Contains(failures, f => f.StartsWith($"Delivery:Dkim:1:Domain '{second}' has more than one key", StringComparison.Ordinal));
    }

    /// <summary>Answers the DNS lookup with the TXT record the domain would publish.</summary>
    private sealed class Locator(RSA key) : DkimPublicKeyLocatorBase
    {
        private readonly string _record = "v=DKIM1; k=rsa; p=" + Convert.ToBase64String(key.ExportSubjectPublicKeyInfo());

        /// <summary>The domain and selector of the last lookup: where a receiver would look in DNS.</summary>
        public (string Domain, string Selector)? LookedUp { get; private set; }

        public override AsymmetricKeyParameter LocatePublicKey(string methods, string domain, string selector, CancellationToken cancellationToken = default)
        {
            LookedUp = (domain, selector);
            return GetPublicKey(_record);
        }

        public override Task<AsymmetricKeyParameter> LocatePublicKeyAsync(string methods, string domain, string selector, CancellationToken cancellationToken = default) =>
            Task.FromResult(LocatePublicKey(methods, domain, selector, cancellationToken));
    }
}
