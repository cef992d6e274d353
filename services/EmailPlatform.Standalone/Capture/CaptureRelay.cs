using System.Buffers;
using System.Net;
using System.Text;
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
/// Delivery reaches it over a real socket through the same SMTP code as any upstream relay.
/// </summary>
internal sealed class CaptureRelay(StandaloneOptions options, ILogger<CaptureRelay> logger) : IHostedService, IDisposable
{
    public const string RelayName = "capture";

    private readonly CancellationTokenSource _stopping = new();
    private SmtpServer.SmtpServer? _server;
    private Task _running = Task.CompletedTask;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(options.MailDirectory);
        var serverOptions = new SmtpServerOptionsBuilder()
            .ServerName("emailplatform-capture")
            .Endpoint(e => e.Endpoint(new IPEndPoint(IPAddress.Loopback, options.CaptureRelayPort)))
            .Build();

        var listening = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var listeners = new EndpointListenerFactory();
        listeners.EndpointStarted += (_, _) => listening.TrySetResult();

        var services = new SmtpServerServices();
        services.Add(listeners);
        services.Add(new EmlFileStore(options.MailDirectory, logger));
        _server = new SmtpServer.SmtpServer(serverOptions, services);
        _running = _server.StartAsync(_stopping.Token);

        // Fail the start, naming the setting, when the port cannot be bound: otherwise every email would be deferred.
        var first = await Task.WhenAny(listening.Task, _running).WaitAsync(TimeSpan.FromSeconds(10), cancellationToken);
        if (first == _running || _running.IsFaulted)
        {
            var reason = _running.Exception?.GetBaseException().Message ?? "it stopped";
            throw new InvalidOperationException(
                $"The capture relay cannot listen on 127.0.0.1:{options.CaptureRelayPort} ({reason}). Set Standalone:CaptureRelayPort to a free port.");
        }
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_stopping.IsCancellationRequested)
        {
            return;
        }

        await _stopping.CancelAsync();
        _server?.Shutdown();
        await _running.WaitAsync(cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    public void Dispose() => _stopping.Dispose();

    /// <summary>
    /// Writes a message as its file: first its envelope, as capture tools do, in an <c>X-Envelope-From</c> header (the
    /// <c>MAIL FROM</c> address, empty for a null sender) and one <c>X-Envelope-To</c> per <c>RCPT TO</c>, which shows the
    /// recipients no header names (Bcc); then the message's bytes as received, ended by the CRLF that ended its last
    /// line (SmtpServer strips it with the terminating dot).
    /// </summary>
    private sealed class EmlFileStore(string folder, ILogger logger) : MessageStore
    {
        private static readonly byte[] Crlf = "\r\n"u8.ToArray();

        public override async Task<SmtpResponse> SaveAsync(
            ISessionContext context, IMessageTransaction transaction, ReadOnlySequence<byte> buffer, CancellationToken cancellationToken)
        {
            var name = $"{DateTime.UtcNow:yyyyMMdd'T'HHmmssfff}-{Guid.NewGuid():N}.eml";
            var path = Path.Combine(folder, name);
            await using (var file = File.Create(path))
            {
                await file.WriteAsync(Envelope(transaction), cancellationToken);
                foreach (var segment in buffer)
                {
                    await file.WriteAsync(segment, cancellationToken);
                }

                await file.WriteAsync(Crlf, cancellationToken);
            }

            Log.Captured(logger, name, transaction.To.Count);
            return SmtpResponse.Ok;
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
    [LoggerMessage(EventId = 4000, Level = LogLevel.Information, Message = "Captured {File} for {RecipientCount} recipient(s)")]
    public static partial void Captured(ILogger logger, string file, int recipientCount);
}
