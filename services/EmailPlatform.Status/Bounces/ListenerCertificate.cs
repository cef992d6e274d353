using System.Security.Cryptography.X509Certificates;
using SmtpServer;

namespace EmailPlatform.Status.Bounces;

/// <summary>
/// The certificate the bounce listener offers STARTTLS with, from PEM files (<c>Status:BounceListener:CertificatePath</c>
/// and <c>CertificateKeyPath</c>), read again for the next session once either file changes: a certificate renewed in
/// place (cert-manager rewriting a mounted secret, an ACME client its files) is used without a restart. A renewal that
/// cannot be read (a key not yet written beside its certificate) leaves the one in use until a later change reads.
/// </summary>
public sealed class ListenerCertificate : ICertificateFactory
{
    private readonly string _certificatePath;
    private readonly string _keyPath;
    private readonly ILogger _logger;
    private readonly Lock _reading = new();
    private (DateTime Certificate, DateTime Key) _readAt;
    private X509Certificate2 _current;

    /// <summary>Reads the files now; throws, naming the keys, when they are no certificate and key.</summary>
    public ListenerCertificate(string certificatePath, string keyPath, ILogger logger)
    {
        _certificatePath = certificatePath;
        _keyPath = keyPath;
        _logger = logger;
        _readAt = WrittenAt();
        try
        {
            _current = Read();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or System.Security.Cryptography.CryptographicException or ArgumentException)
        {
            throw new InvalidOperationException(
                $"Status:BounceListener:CertificatePath ({certificatePath}) and Status:BounceListener:CertificateKeyPath ({keyPath}) must name a PEM certificate and its private key: {ex.Message}",
                ex);
        }
    }

    /// <summary>The certificate's subject and expiry, for the start's log line.</summary>
    public string Describe()
    {
        var certificate = _current;
        return $"{certificate.Subject}, valid until {certificate.NotAfter.ToUniversalTime():u}";
    }

    public X509Certificate GetServerCertificate(ISessionContext sessionContext)
    {
        var written = WrittenAt();
        lock (_reading)
        {
            if (written != _readAt)
            {
                _readAt = written;
                try
                {
                    // The one replaced is not disposed: a session may be in its handshake with it.
                    _current = Read();
                    Log.CertificateRead(_logger, Describe());
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or System.Security.Cryptography.CryptographicException or ArgumentException)
                {
                    Log.CertificateNotRead(_logger, ex);
                }
            }

            return _current;
        }
    }

    private X509Certificate2 Read() => X509Certificate2.CreateFromPemFile(_certificatePath, _keyPath);

    private (DateTime, DateTime) WrittenAt() => (File.GetLastWriteTimeUtc(_certificatePath), File.GetLastWriteTimeUtc(_keyPath));
}
