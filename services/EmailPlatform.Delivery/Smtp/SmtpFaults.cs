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

    public static string Describe(Exception exception, RelayOptions relay, bool connecting, DeliveryOptions options)
    {
        var endpoint = $"{relay.Host}:{relay.Port}";
        return exception switch
        {
            SocketException socket when connecting =>
                $"Could not connect to relay '{relay.Name}' at {endpoint}: {socket.SocketErrorCode}.",
            OperationCanceledException or TimeoutException when connecting =>
                $"Timed out connecting to relay '{relay.Name}' at {endpoint} (Delivery:ConnectTimeout {options.ConnectTimeout:c}).",
            OperationCanceledException or TimeoutException =>
                $"Timed out waiting for relay '{relay.Name}' at {endpoint} (Delivery:CommandTimeout {options.CommandTimeout:c}).",
            SslHandshakeException =>
                $"The TLS handshake with relay '{relay.Name}' at {endpoint} failed.",
            AuthenticationException =>
                $"Relay '{relay.Name}' at {endpoint} refused the configured credentials: {exception.Message}",
            ServiceNotAuthenticatedException =>
                $"Relay '{relay.Name}' at {endpoint} requires authentication: configure its Username and Password.",
            NotSupportedException when connecting =>
                $"Relay '{relay.Name}' at {endpoint} does not offer STARTTLS, which Security={relay.Security} requires.",
            NotSupportedException =>
                $"Relay '{relay.Name}' at {endpoint} does not support what this message needs: {exception.Message}",
            _ =>
                $"The SMTP session with relay '{relay.Name}' at {endpoint} failed: {exception.Message}",
        };
    }

    public static SecureSocketOptions ToSecureSocketOptions(RelaySecurity security) => security switch
    {
        RelaySecurity.None => SecureSocketOptions.None,
        RelaySecurity.StartTls => SecureSocketOptions.StartTls,
        RelaySecurity.SslOnConnect => SecureSocketOptions.SslOnConnect,
        _ => SecureSocketOptions.StartTlsWhenAvailable,
    };
}
