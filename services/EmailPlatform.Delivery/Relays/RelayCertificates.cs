using System.Net.Security;
using System.Security.Cryptography.X509Certificates;

namespace EmailPlatform.Delivery.Relays;

/// <summary>
/// TLS certificate validation for a relay. Without <see cref="RelayOptions.TrustedCertificate"/> it is the system's:
/// a chain to a trusted root, valid dates, the relay's host name and, unless the relay's
/// <see cref="RelayOptions.CheckCertificateRevocation"/> is off, revocation (set on the relay's connections by
/// <see cref="Smtp.SmtpConnectionPool"/>). With one, a relay certificate is also accepted
/// when it is exactly one of the given certificates (pinned: a self-signed relay, whatever name it carries), or when
/// it chains up to one of them as its root (a private CA) and carries the relay's host name. Revocation is not checked
/// on such a private chain: private CAs seldom publish revocation lists a worker could reach.
/// </summary>
internal static class RelayCertificates
{
    /// <summary>The certificates a relay's configuration trusts, read from PEM; empty when it names none.</summary>
    public static X509Certificate2Collection Trusted(RelayOptions relay)
    {
        var pem = !string.IsNullOrWhiteSpace(relay.TrustedCertificate) ? relay.TrustedCertificate
            : !string.IsNullOrWhiteSpace(relay.TrustedCertificateFile) ? File.ReadAllText(relay.TrustedCertificateFile)
            : null;
        var trusted = new X509Certificate2Collection();
        if (pem is not null)
        {
            trusted.ImportFromPem(pem);
            if (trusted.Count == 0)
            {
                throw new FormatException("No PEM certificate (-----BEGIN CERTIFICATE-----) was found.");
            }
        }

        return trusted;
    }

    /// <summary>The validation callback for the relay's connections; null (the system's validation) when it trusts nothing more.</summary>
    public static RemoteCertificateValidationCallback? ValidatorFor(RelayOptions relay)
    {
        var trusted = Trusted(relay);
        return trusted.Count == 0 ? null : (_, certificate, chain, errors) => IsTrusted(trusted, certificate, chain, errors);
    }

    internal static bool IsTrusted(X509Certificate2Collection trusted, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        if (errors == SslPolicyErrors.None)
        {
            return true;
        }

        if (certificate is null || errors.HasFlag(SslPolicyErrors.RemoteCertificateNotAvailable))
        {
            return false;
        }

        using var loaded = certificate is X509Certificate2 ? null : X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        var presented = loaded ?? (X509Certificate2)certificate;
        if (trusted.Any(t => t.RawDataMemory.Span.SequenceEqual(presented.RawDataMemory.Span)))
        {
            return true;
        }

        if (errors.HasFlag(SslPolicyErrors.RemoteCertificateNameMismatch))
        {
            return false;
        }

        using var custom = new X509Chain();
        custom.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        custom.ChainPolicy.CustomTrustStore.AddRange(trusted);
        custom.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        if (chain is not null)
        {
            foreach (var element in chain.ChainElements)
            {
                custom.ChainPolicy.ExtraStore.Add(element.Certificate);
            }
        }

        return custom.Build(presented);
    }
}
