using System.Globalization;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
namespace EmailPlatform.Testing;

/// <summary>
/// A real Postfix (the Debian package <c>build.sh test</c> installs) as an upstream relay: an instance of its own
/// (configuration, queue and log in a temporary folder, <c>postfix -c</c>) listening on a free loopback port, offering
/// STARTTLS with a self-signed certificate for <c>relay.test</c> made for the test, and relaying what it accepts to
/// a downstream port (a scripted server that shows what arrived), or per recipient domain to the ports of a transport
/// map. A delivery it could not make is retried within seconds, not minutes, and one refused for good is bounced as
/// Postfix does: a delivery status notification to the envelope sender, sent on the same way. Needs root, as Postfix does.
/// </summary>
public sealed class PostfixRelay : IAsyncDisposable
{
    private readonly string _directory;

    private PostfixRelay(string directory, int port, string certificatePem)
    {
        _directory = directory;
        Port = port;
        CertificatePem = certificatePem;
    }

    public int Port { get; }

    /// <summary>The certificate Postfix presents, in PEM (self-signed, for <c>relay.test</c>).</summary>
    public string CertificatePem { get; }

    public string CertificateFile => Path.Combine(_directory, "cert.pem");

    /// <summary>Postfix's own log (<c>maillog_file</c>), for a failing assertion's message.</summary>
    public string Log => File.Exists(Path.Combine(_directory, "maillog")) ? File.ReadAllText(Path.Combine(_directory, "maillog")) : "(no log)";

    /// <param name="downstreamPort">Where it relays whatever the transport map does not route.</param>
    /// <param name="transports">Recipient domains routed to other loopback ports (the recipients' servers, the bounce listener).</param>
    /// <param name="encryptTo">Loopback ports it delivers to only over STARTTLS (<c>encrypt</c>: any certificate), logging each TLS session.</param>
    public static async Task<PostfixRelay> StartAsync(int downstreamPort, IReadOnlyDictionary<string, int>? transports = null, IReadOnlyCollection<int>? encryptTo = null)
    {
        var directory = Path.Combine(Path.GetTempPath(), $"ep-postfix-{Guid.NewGuid():N}");
        Directory.CreateDirectory(Path.Combine(directory, "queue"));
        Directory.CreateDirectory(Path.Combine(directory, "data"));
        var port = ServiceProcess.FreeTcpPort();
        var relay = new PostfixRelay(directory, port, WriteCertificate(directory));
        try
        {
            await File.WriteAllTextAsync(Path.Combine(directory, "main.cf"), MainCf(directory, downstreamPort, transports ?? new Dictionary<string, int>(), encryptTo ?? []));
            await File.WriteAllTextAsync(Path.Combine(directory, "master.cf"), MasterCf(port));
            await Command.RunAsync("chown", "postfix", Path.Combine(directory, "data"));
            await Command.RunAsync("postfix", "-c", directory, "start");
            await Eventually.GetAsync(() => Task.FromResult(Listening(port)), up => up, TimeSpan.FromSeconds(30), $"Postfix to listen on {port}");
            return relay;
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            var log = relay.Log;
            await relay.DisposeAsync();
            throw new InvalidOperationException($"Postfix did not start (is the postfix package installed, and are the tests root?): {ex.Message}\n{log}", ex);
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await Command.RunAsync("postfix", "-c", _directory, "stop");
        }
        catch (InvalidOperationException)
        {
            // Not running (it did not start): nothing to stop.
        }

        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
            // A daemon still closing a file: the folder is in the temporary directory anyway.
        }
    }

    private static string MainCf(string directory, int downstreamPort, IReadOnlyDictionary<string, int> transports, IReadOnlyCollection<int> encryptTo) => $"""
        compatibility_level = 3.6
        queue_directory = {directory}/queue
        data_directory = {directory}/data
        mail_owner = postfix
        setgid_group = postdrop
        maillog_file = {directory}/maillog
        maillog_file_prefixes = {directory}
        inet_interfaces = 127.0.0.1
        inet_protocols = ipv4
        myhostname = relay.test
        mydestination =
        mynetworks = 127.0.0.0/8
        relayhost = [127.0.0.1]:{downstreamPort.ToString(CultureInfo.InvariantCulture)}
        smtpd_relay_restrictions = permit_mynetworks, reject
        smtpd_peername_lookup = no
        smtpd_tls_cert_file = {directory}/cert.pem
        smtpd_tls_key_file = {directory}/key.pem
        smtpd_tls_security_level = may
        smtpd_tls_received_header = yes
        smtp_tls_security_level = none
        alias_maps =
        alias_database =
        {TransportMaps(transports)}
        {TlsPolicies(encryptTo)}
        queue_run_delay = 1s
        minimal_backoff_time = 1s
        maximal_backoff_time = 2s
        """;

    /// <summary>Each domain of <paramref name="transports"/> to its loopback port, or nothing when there is none.</summary>
    private static string TransportMaps(IReadOnlyDictionary<string, int> transports) =>
        transports.Count == 0
            ? ""
            : "transport_maps = inline:{ " + string.Join(", ", transports.Select(t => $"{t.Key}=smtp:[127.0.0.1]:{t.Value.ToString(CultureInfo.InvariantCulture)}")) + " }";

    /// <summary>STARTTLS required towards each of <paramref name="encryptTo"/> (looked up by the next hop the transport map gives).</summary>
    private static string TlsPolicies(IReadOnlyCollection<int> encryptTo) =>
        encryptTo.Count == 0
            ? ""
            : "smtp_tls_loglevel = 1\nsmtp_tls_policy_maps = inline:{ " + string.Join(", ", encryptTo.Select(p => $"[127.0.0.1]:{p.ToString(CultureInfo.InvariantCulture)}=encrypt")) + " }";

    /// <summary>The services a relaying Postfix needs, none of them chrooted (the queue is in a temporary folder).</summary>
    private static string MasterCf(int port) => $"""
        127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)} inet n - n - - smtpd
        cleanup unix n - n - 0 cleanup
        qmgr unix n - n 300 1 qmgr
        rewrite unix - - n - - trivial-rewrite
        bounce unix - - n - 0 bounce
        defer unix - - n - 0 bounce
        trace unix - - n - 0 bounce
        verify unix - - n - 1 verify
        flush unix n - n 1000? 0 flush
        proxymap unix - - n - - proxymap
        smtp unix - - n - - smtp
        relay unix - - n - - smtp
        showq unix n - n - - showq
        error unix - - n - - error
        retry unix - - n - - error
        discard unix - - n - - discard
        local unix - n n - - local
        anvil unix - - n - 1 anvil
        scache unix - - n - 1 scache
        postlog unix-dgram n - n - 1 postlogd
        tlsmgr unix - - n 1000? 1 tlsmgr
        """;

    /// <summary>A self-signed certificate for <c>relay.test</c> and its key, as Postfix reads them; returns the certificate's PEM.</summary>
    private static string WriteCertificate(string directory)
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest("CN=relay.test", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName("relay.test");
        request.CertificateExtensions.Add(names.Build());
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        var pem = certificate.ExportCertificatePem();
        File.WriteAllText(Path.Combine(directory, "cert.pem"), pem);
        File.WriteAllText(Path.Combine(directory, "key.pem"), key.ExportPkcs8PrivateKeyPem());
        return pem;
    }

    private static bool Listening(int port)
    {
        try
        {
            using var client = new TcpClient();
            client.Connect("127.0.0.1", port);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
