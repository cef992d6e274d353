using System.Net.Sockets;
using EmailPlatform.Delivery.Relays;
using MailKit;
using MailKit.Net.Smtp;
using MailKit.Security;

namespace EmailPlatform.Delivery.Smtp;

/// <summary>
/// The failures that mean "the relay could not be reached or the session broke": the recipients are deferred
/// with a reason and no reply. Anything else is a bug or bad input and is left to fault the message.
/// </summary>
internal static class SmtpFaults
{
    public static bool IsTransportFault(Exception exception) => exception is
        SocketException or IOException or TimeoutException or OperationCanceledException
        or SslHandshakeException or AuthenticationException or ServiceNotConnectedException
        or ServiceNotAuthenticatedException or SmtpProtocolException or NotSupportedException;

    /// <summary>
    /// The public reason for a transport fault: it goes into events that API clients read, so it names the relay
    /// and the kind of failure but never the relay's host or port, nor exception text (both stay in the logs). A timeout
    /// names the bound that ran out: once the transaction has begun (<paramref name="transfer"/>), the message data has
    /// <c>Delivery:DataTimeout</c>, and the transaction as a whole <see cref="DeliveryOptions.LongestTransaction"/>.
    /// </summary>
    public static string Describe(Exception exception, RelayOptions relay, bool connecting, DeliveryOptions options, DataTransfer? transfer = null) => exception switch
    {
        SocketException socket when connecting =>
            $"Could not connect to relay '{relay.Name}': {socket.SocketErrorCode}.",
        OperationCanceledException or TimeoutException when connecting =>
            $"Timed out connecting to relay '{relay.Name}' (Delivery:ConnectTimeout {options.ConnectTimeout:c}).",
        OperationCanceledException or TimeoutException when transfer is { DataStarted: true } =>
            $"Timed out sending the message to relay '{relay.Name}' (Delivery:DataTimeout {options.DataTimeout:c}).",
        OperationCanceledException or TimeoutException when transfer is { Expired: true } =>
            $"Relay '{relay.Name}' did not finish the mail transaction within {options.LongestTransaction:c} " +
            "(three times Delivery:CommandTimeout plus Delivery:DataTimeout).",
        OperationCanceledException or TimeoutException =>
            $"Timed out waiting for relay '{relay.Name}' (Delivery:CommandTimeout {options.CommandTimeout:c}).",
        SslHandshakeException { ServerCertificate: not null } =>
            $"The TLS handshake with relay '{relay.Name}' failed: its certificate is not trusted (a self-signed or private-CA " +
            "certificate can be trusted with the relay's TrustedCertificate or TrustedCertificateFile).",
        SslHandshakeException =>
            $"The TLS handshake with relay '{relay.Name}' failed.",
        AuthenticationException =>
            $"Relay '{relay.Name}' refused the configured credentials.",
        ServiceNotAuthenticatedException =>
            $"Relay '{relay.Name}' requires authentication: configure its Username and Password.",
        NotSupportedException when connecting =>
            $"Relay '{relay.Name}' does not offer STARTTLS, which Security={relay.Security} requires.",
        NotSupportedException =>
            $"Relay '{relay.Name}' does not support what this message needs (such as SMTPUTF8 for an internationalized address).",
        _ =>
            $"The SMTP session with relay '{relay.Name}' failed ({exception.GetType().Name}).",
    };

    /// <summary>The public reason for an unknown outcome: the whole message went out and no reply to its final dot came.</summary>
    public static string DescribeUnknownOutcome(Exception exception, RelayOptions relay, DeliveryOptions options) =>
        $"Unknown outcome: relay '{relay.Name}' received the whole message but " +
        (exception is OperationCanceledException or TimeoutException
            ? $"did not answer its end within Delivery:DataTimeout ({options.DataTimeout:c})"
            : "closed the connection before answering its end") +
        "; it may have accepted it. Retried with the same Message-ID, so a receiver that got it can recognise the copy.";

    public static SecureSocketOptions ToSecureSocketOptions(RelaySecurity security) => security switch
    {
        RelaySecurity.None => SecureSocketOptions.None,
        RelaySecurity.StartTls => SecureSocketOptions.StartTls,
        RelaySecurity.SslOnConnect => SecureSocketOptions.SslOnConnect,
        _ => SecureSocketOptions.StartTlsWhenAvailable,
    };
}
