using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace EmailPlatform.Delivery.Tests.Support;

internal static class TestCertificates
{
    /// <summary>
    /// A self-signed server certificate with its private key, for a test relay's TLS. Its PEM
    /// (<see cref="X509Certificate2.ExportCertificatePem"/>) is what a relay's <c>TrustedCertificate</c> pins.
    /// </summary>
    public static X509Certificate2 SelfSigned(string subject = "CN=scripted.test")
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        return request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
    }
}
