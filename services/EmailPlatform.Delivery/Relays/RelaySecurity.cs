namespace EmailPlatform.Delivery.Relays;

/// <summary>How the connection to a relay is secured.</summary>
public enum RelaySecurity
{
    /// <summary>Plain text; never upgrades to TLS.</summary>
    None,

    /// <summary>STARTTLS is required: the send fails (and is deferred) if the relay does not offer it.</summary>
    StartTls,

    /// <summary>Implicit TLS from the first byte (SMTPS, usually port 465, where it is the only security accepted).</summary>
    SslOnConnect,

    /// <summary>STARTTLS when the relay offers it, plain text otherwise.</summary>
    Auto,
}
