using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using EmailPlatform.Delivery.Relays;

namespace EmailPlatform.Delivery.Tests.Relays;

/// <summary>
/// What a relay's <c>TrustedCertificate</c> trusts: exactly that certificate (pinned), or certificates a trusted private
/// CA issued for the relay's name; never anything else, and nothing at all when it is not configured.
/// </summary>
public sealed class RelayCertificatesTests
{
    private const SslPolicyErrors UntrustedChain = SslPolicyErrors.RemoteCertificateChainErrors;

    [Fact]
    public void PinnedSelfSignedCertificateIsTrustedWhateverNameItCarries()
    {
        using var relay = SelfSigned("CN=postfix.internal");
        var trusted = new X509Certificate2Collection { relay };

        Assert.True(RelayCertificates.IsTrusted(trusted, relay, null, UntrustedChain | SslPolicyErrors.RemoteCertificateNameMismatch));
    }

    [Fact]
    public void CertificateIssuedByATrustedPrivateCaIsTrustedOnlyForTheRightName()
    {
        using var caKey = RSA.Create(2048);
        using var ca = Authority(caKey);
        using var leaf = Issued(ca, caKey, "CN=relay.internal");
        var trusted = new X509Certificate2Collection { ca };

        Assert.True(RelayCertificates.IsTrusted(trusted, leaf, null, UntrustedChain));
        Assert.False(RelayCertificates.IsTrusted(trusted, leaf, null, UntrustedChain | SslPolicyErrors.RemoteCertificateNameMismatch));
    }

    [Fact]
    public void CertificateTheConfigurationDoesNotNameIsNotTrusted()
    {
        using var presented = SelfSigned("CN=relay.internal");
        using var other = SelfSigned("CN=relay.internal");

        Assert.False(RelayCertificates.IsTrusted([other], presented, null, UntrustedChain));
        Assert.False(RelayCertificates.IsTrusted([other], null, null, SslPolicyErrors.RemoteCertificateNotAvailable));
    }

    [Fact]
    public void WithoutATrustedCertificateTheSystemsValidationApplies()
    {
        Assert.Null(RelayCertificates.ValidatorFor(new RelayOptions { Name = "r", Host = "smtp.example" }));
    }

    [Fact]
    public void UnreadableTrustedCertificateOrOneWithoutTlsFailsTheStartNamingTheKey()
    {
        var options = new DeliveryOptions
        {
            Relays =
            [
                new() { Name = "a", Host = "smtp.a", Security = RelaySecurity.StartTls, TrustedCertificate = "not a certificate" },
                new() { Name = "b", Host = "smtp.b", Security = RelaySecurity.None, TrustedCertificateFile = "/nonexistent/relay.pem" },
                new() { Name = "c", Host = "smtp.c", Security = RelaySecurity.StartTls, TrustedCertificate = "x", TrustedCertificateFile = "/x.pem" },
            ],
        };

        var failures = new DeliveryOptionsValidator().Validate(null, options).Failures!.ToList();

        Assert.Contains(failures, f => f.StartsWith("Delivery:Relays:0:TrustedCertificate could not be read as a PEM certificate", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.StartsWith("Delivery:Relays:1:TrustedCertificateFile is set but Delivery:Relays:1:Security is None", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.StartsWith("Delivery:Relays:1:TrustedCertificateFile could not be read", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.StartsWith("Delivery:Relays:2: set at most one of", StringComparison.Ordinal));
    }

    [Fact]
    public void TrustedCertificateInPemIsAccepted()
    {
        using var relay = SelfSigned("CN=relay.internal");
        var options = new DeliveryOptions
        {
            Relays = [new() { Name = "a", Host = "relay.internal", Security = RelaySecurity.StartTls, TrustedCertificate = relay.ExportCertificatePem() }],
        };

        Assert.True(new DeliveryOptionsValidator().Validate(null, options).Succeeded);
        Assert.NotNull(RelayCertificates.ValidatorFor(options.Relays[0]));
    }

    private static X509Certificate2 SelfSigned(string subject)
    {
        using var key = RSA.Create(2048);
        return new CertificateRequest(subject, key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1)
            .CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
    }

    private static X509Certificate2 Authority(RSA key)
    {
        var request = new CertificateRequest("CN=Acme Private CA", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        return request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
    }

    private static X509Certificate2 Issued(X509Certificate2 ca, RSA caKey, string subject)
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, false));
        var signed = request.Create(ca.SubjectName, X509SignatureGenerator.CreateForRSA(caKey, RSASignaturePadding.Pkcs1),
            DateTimeOffset.UtcNow.AddMinutes(-4), DateTimeOffset.UtcNow.AddHours(12), RandomNumberGenerator.GetBytes(8));
        return signed;
    }
}
