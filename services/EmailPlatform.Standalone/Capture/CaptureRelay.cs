using System.Buffers;
using System.Net;
using System.Text;
using EmailPlatform.Ingress;
using EmailPlatform.Status.Smtp;
using Microsoft.Extensions.Options;
using SmtpServer.Mail;
using SmtpServer;
using SmtpServer.Net;
using SmtpServer.Protocol;
using SmtpServer.Storage;
using SmtpServerServices = SmtpServer.ComponentModel.ServiceProvider;

namespace EmailPlatform.Standalone.Capture;

/// <summary>
/// The built-in SMTP relay of the standalone host: listens on 127.0.0.1 and writes every message it
/// receives, as sent, to an <c>.eml</c> file under <c>data/mail/</c>, after its envelope (<see cref="EmlFileStore"/>).
/// Delivery reaches it over a real socket through the same SMTP code as any upstream relay. A stop
/// (<see cref="HostedSmtpServer"/>) lets a message being written finish, then closes the sessions left: pooled
/// connections idle until their sender closes them, and a message still being received is answered by nothing, which
/// the sender defers and sends again.
/// </summary>
internal sealed class CaptureRelay(StandaloneOptions options, IOptions<IngressOptions> ingress, ILogger<CaptureRelay> logger) : HostedSmtpServer
{
    public const string RelayName = "capture";

    /// <summary>
    /// The largest message taken (SIZE, and the session is closed past it): twice the largest request the ingress
    /// accepts (<c>Ingress:MaxRequestBodyBytes</c>), room for what MIME adds to the same content (base64 line breaks,
    /// quoted-printable, both bodies, headers and a DKIM signature), so nothing the platform accepted is refused here,
    /// while a client that ignores SIZE cannot fill the memory the message is held in.
    /// </summary>
    internal static int MaxMessageSize(IngressOptions ingress) => (int)Math.Min(int.MaxValue, ingress.MaxRequestBodyBytes * 2);

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(options.MailDirectory);
        // Messages a kill cut short while they were written: never answered 250, so their sender sends them again.
        foreach (var partial in Directory.EnumerateFiles(options.MailDirectory, ".*.eml.tmp"))
        {
            EmlFileStore.Delete(partial);
        }

        var serverOptions = new SmtpServerOptionsBuilder()
            .ServerName("emailplatform-capture")
            .Endpoint(e => e.Endpoint(new IPEndPoint(IPAddress.Loopback, options.CaptureRelayPort)))
            .MaxMessageSize(MaxMessageSize(ingress.Value), MaxMessageSizeHandling.Strict)
            .Build();

        var services = new SmtpServerServices();
        services.Add(new EmlFileStore(options.MailDirectory, logger, Saving));
        // Fail the start, naming the setting, when the port cannot be bound: otherwise every email would be deferred.
        await StartServerAsync(serverOptions, services, new EndpointListenerFactory(),
            reason => CannotListen(options.CaptureRelayPort, reason),
            cancellationToken);
    }

    internal static string CannotListen(int port, string reason) =>
        $"The capture relay cannot listen on 127.0.0.1:{port} ({reason}). Set Standalone:CaptureRelayPort to a free port.";

    /// <summary>
    /// Writes a message as its file: first its envelope, as capture tools do, in an <c>X-Envelope-From</c> header (the
    /// <c>MAIL FROM</c> address, empty for a null sender) and one <c>X-Envelope-To</c> per <c>RCPT TO</c>, which shows the
    /// recipients no header names (Bcc); then the message's bytes as received, ended by the CRLF that ended its last
    /// line (SmtpServer strips it with the terminating dot). The file is written under a temporary name that does not
    /// match <c>*.eml</c>, flushed to disk, then renamed: a reader never sees half a message, and a kill mid-write
    /// leaves no truncated <c>.eml</c>. The folder is created for each message, so removing it while the host runs
    /// (clearing captured mail) loses nothing. A write that fails (disk full, permissions) is answered with a 4xx: the
    /// worker defers the message and sends it again, where the 554 SmtpServer answers an exception with would have
    /// bounced every recipient.
    /// </summary>
    private sealed class EmlFileStore(string folder, ILogger logger, Func<Task<SmtpResponse>, Task<SmtpResponse>> saving) : MessageStore
    {
        private static readonly byte[] Crlf = "\r\n"u8.ToArray();

        public override Task<SmtpResponse> SaveAsync(
            ISessionContext context, IMessageTransaction transaction, ReadOnlySequence<byte> buffer, CancellationToken cancellationToken) =>
            saving(SaveFileAsync(transaction, buffer, cancellationToken));

        private async Task<SmtpResponse> SaveFileAsync(IMessageTransaction transaction, ReadOnlySequence<byte> buffer, CancellationToken cancellationToken)
        {
            var name = $"{DateTime.UtcNow:yyyyMMdd'T'HHmmssfff}-{Guid.NewGuid():N}.eml";
            var path = Path.Combine(folder, name);
            var temporary = Path.Combine(folder, $".{name}.tmp");
            try
            {
                Directory.CreateDirectory(folder);
                await using (var file = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, 4096, useAsync: true))
                {
                    await file.WriteAsync(Envelope(transaction), cancellationToken);
                    foreach (var segment in buffer)
                    {
                        await file.WriteAsync(segment, cancellationToken);
                    }

                    await file.WriteAsync(Crlf, cancellationToken);
                    await file.FlushAsync(cancellationToken);
                    file.Flush(flushToDisk: true);
                }

                File.Move(temporary, path);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                Delete(temporary);
                var full = IsDiskFull(ex);
                Log.CaptureFailed(logger, path, ex);
                // By number: SmtpServer's names do not say which 4xx they are (its Error is 471).
                return full
                    ? new SmtpResponse((SmtpReplyCode)452, "4.3.1 Cannot write the message: the disk is full; try again later")
                    : new SmtpResponse((SmtpReplyCode)451, "4.3.0 Cannot write the message; try again later");
            }
            catch
            {
                Delete(temporary);
                throw;
            }

            Log.Captured(logger, name, transaction.To.Count);
            return SmtpResponse.Ok;
        }

        /// <summary>ENOSPC (28) on Linux and macOS; ERROR_HANDLE_DISK_FULL and ERROR_DISK_FULL on Windows.</summary>
        private static bool IsDiskFull(Exception ex) =>
            ex.HResult is 28 or unchecked((int)0x80070027) or unchecked((int)0x80070070);

        public static void Delete(string file)
        {
            try
            {
                File.Delete(file);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // Nothing more to do: a leftover .tmp is not a captured message.
            }
        }

        /// <summary>The envelope as header lines, in UTF-8 (an SMTPUTF8 address is written as it came).</summary>
        private static byte[] Envelope(IMessageTransaction transaction)
        {
            var lines = new StringBuilder();
            lines.Append("X-Envelope-From: <").Append(transaction.From?.AsAddress()).Append(">\r\n");
            foreach (var recipient in transaction.To)
            {
                lines.Append("X-Envelope-To: <").Append(recipient.AsAddress()).Append(">\r\n");
            }

            return Encoding.UTF8.GetBytes(lines.ToString());
        }
    }
}

internal static partial class Log
{
    [LoggerMessage(EventId = 8000, Level = LogLevel.Information, Message = "Captured {File} for {RecipientCount} recipient(s)")]
    public static partial void Captured(ILogger logger, string file, int recipientCount);

    [LoggerMessage(EventId = 8003, Level = LogLevel.Warning, Message = "The capture relay could not write {File}; the message is deferred and will be sent again")]
    public static partial void CaptureFailed(ILogger logger, string file, Exception exception);
}
