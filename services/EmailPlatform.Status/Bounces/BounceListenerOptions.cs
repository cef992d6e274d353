namespace EmailPlatform.Status.Bounces;

/// <summary>
/// Configuration section <c>Status:BounceListener</c>: an SMTP listener for the bounces that come back to the envelope
/// senders <c>Ingress:ReturnPath</c> makes, so that the bounce domain's MX can point at the status service itself.
/// </summary>
public sealed class BounceListenerOptions
{
    public const string SectionName = "Status:BounceListener";

    /// <summary>The TCP port to listen on; 0 (the default) runs no listener.</summary>
    public int Port { get; set; }

    /// <summary>The address to listen on (all IPv4 addresses by default).</summary>
    public string Address { get; set; } = "0.0.0.0";

    /// <summary>
    /// The domains whose mail is taken (<c>RCPT TO</c>), such as <c>bounce.example.com</c>: the domain of
    /// <c>Ingress:ReturnPath</c>. Required with a port: a recipient in any other domain is refused.
    /// </summary>
    public string[] Domains { get; set; } = [];

    /// <summary>The host name the listener greets with; the machine's by default.</summary>
    public string? ServerName { get; set; }

    /// <summary>How long one SMTP session may last (2 minutes): a sender that stalls gives its connection back.</summary>
    public TimeSpan SessionTimeout { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>
    /// Sessions served at once (20): the next connection waits in the listen queue until one ends. Each session may hold a
    /// report of up to 10 MB while it is read, so this bounds the memory senders can make the service hold.
    /// </summary>
    public int MaxSessions { get; set; } = 20;

    /// <summary>
    /// A PEM file with the certificate the listener offers STARTTLS with, its chain after it (a Kubernetes TLS secret's
    /// <c>tls.crt</c>). With <see cref="CertificateKeyPath"/>; neither (the default): no STARTTLS. Read again when it changes.
    /// </summary>
    public string? CertificatePath { get; set; }

    /// <summary>The PEM file with that certificate's private key (<c>tls.key</c>).</summary>
    public string? CertificateKeyPath { get; set; }

    /// <summary>Whether STARTTLS is configured: both files are named.</summary>
    public bool OffersStartTls => !string.IsNullOrWhiteSpace(CertificatePath) && !string.IsNullOrWhiteSpace(CertificateKeyPath);
}
