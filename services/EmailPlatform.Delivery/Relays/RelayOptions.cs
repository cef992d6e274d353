namespace EmailPlatform.Delivery.Relays;

/// <summary>One upstream SMTP relay: an entry of <c>Delivery:Relays</c>.</summary>
public sealed class RelayOptions
{
    /// <summary>The relay's name in events, logs and metrics. Defaults to <see cref="Host"/>.</summary>
    public string Name { get; set; } = "";

    public string Host { get; set; } = "";

    public int Port { get; set; } = 25;

    public RelaySecurity Security { get; set; } = RelaySecurity.Auto;

    /// <summary>SMTP AUTH user name; no authentication when empty. Requires Security StartTls or SslOnConnect.</summary>
    public string? Username { get; set; }

    public string? Password { get; set; }

    /// <summary>
    /// A certificate to trust for this relay, in PEM, besides the system's roots: the relay's own (self-signed, or
    /// pinned) certificate, or the private CA that issued it. Given inline (from a secret) or as a mounted file
    /// (<see cref="TrustedCertificateFile"/>). Certificate validation is otherwise on, as for any TLS connection.
    /// </summary>
    public string? TrustedCertificate { get; set; }

    /// <summary>The path of a mounted PEM file holding <see cref="TrustedCertificate"/>.</summary>
    public string? TrustedCertificateFile { get; set; }

    /// <summary>
    /// Whether the TLS handshake asks the relay certificate's CA whether it was revoked (OCSP or CRL, over HTTP, usually
    /// port 80). On by default, as MailKit has it; a worker whose egress reaches the relay but not its CA (a restricted
    /// NetworkPolicy) fails every handshake with a chain it cannot check, so there either allow the CA's OCSP and CRL
    /// endpoints or turn this off for that relay. A certificate that only <see cref="TrustedCertificate"/> makes trusted
    /// is accepted without this check (see <see cref="RelayCertificates"/>).
    /// </summary>
    public bool CheckCertificateRevocation { get; set; } = true;

    /// <summary>The most connections this worker opens to the relay at once.</summary>
    public int MaxConnections { get; set; } = 4;

    /// <summary>A rate limit for the relay, if it has one: enforced per worker replica (see <see cref="RelayRouter"/>).</summary>
    public int? MaxMessagesPerSecond { get; set; }

    /// <summary>Failover order: lower numbers are tried first; a higher one only when those are failing.</summary>
    public int Priority { get; set; }

    /// <summary>Share of traffic among relays of equal priority.</summary>
    public int Weight { get; set; } = 1;
}
