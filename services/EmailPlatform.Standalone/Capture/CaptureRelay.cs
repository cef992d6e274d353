using System.Buffers;
using System.Net;
using SmtpServer;
using SmtpServer.Net;
using SmtpServer.Protocol;
using SmtpServer.Storage;
using SmtpServerServices = SmtpServer.ComponentModel.ServiceProvider;

namespace EmailPlatform.Standalone.Capture;

/// <summary>
/// The built-in SMTP relay of the standalone host: listens on 127.0.0.1 and writes every message it
/// receives, as sent, to an <c>.eml</c> file under <c>data/mail/</c>. Delivery reaches it over a real
/// socket through the same SMTP code as any upstream relay.
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

    private sealed class EmlFileStore(string folder, ILogger logger) : MessageStore
    {
        public override async Task<SmtpResponse> SaveAsync(
            ISessionContext context, IMessageTransaction transaction, ReadOnlySequence<byte> buffer, CancellationToken cancellationToken)
        {
            var name = $"{DateTime.UtcNow:yyyyMMdd'T'HHmmssfff}-{Guid.NewGuid():N}.eml";
            var path = Path.Combine(folder, name);
            await using (var file = File.Create(path))
            {
                foreach (var segment in buffer)
                {
                    await file.WriteAsync(segment, cancellationToken);
                }
            }

            Log.Captured(logger, name, transaction.To.Count);
            return SmtpResponse.Ok;
        }
    }
}

internal static partial class Log
{
    [LoggerMessage(EventId = 4000, Level = LogLevel.Information, Message = "Captured {File} for {RecipientCount} recipient(s)")]
    public static partial void Captured(ILogger logger, string file, int recipientCount);
}
