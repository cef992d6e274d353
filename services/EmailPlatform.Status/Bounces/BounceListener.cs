using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using EmailPlatform.Status.Complaints;
using EmailPlatform.Status.Smtp;
using Microsoft.Extensions.Options;
using SmtpServer;
using SmtpServer.IO;
using SmtpServer.Mail;
using SmtpServer.Net;
using SmtpServer.Protocol;
using SmtpServer.Storage;
using SmtpServerServices = SmtpServer.ComponentModel.ServiceProvider;

namespace EmailPlatform.Status.Bounces;

/// <summary>
/// An SMTP listener for bounces and complaints (<see cref="BounceListenerOptions"/>, off unless
/// <c>Status:BounceListener:Port</c> is set): the bounce domain's MX points here (and the address registered with
/// mailbox providers' feedback loops is in that domain), and each message it takes is recorded before it is answered, by
/// <see cref="ComplaintReports"/> when it is a feedback report, otherwise by <see cref="BounceReports"/>. <c>250</c> once
/// it is recorded (or was already); <c>550</c> for a message that is no report or names no email sent here, and for a recipient outside
/// <c>Status:BounceListener:Domains</c> (it relays nothing); <c>554</c> for one that is not a message; <c>451</c> when
/// it cannot be recorded now (the store is away, or its email was accepted moments ago and is not recorded yet), so the
/// sending MTA keeps it and tries again: a report is never lost between its <c>250</c> and its record. Messages larger
/// than <see cref="ReportBody.MaxBytes"/> are refused, and at most <c>Status:BounceListener:MaxSessions</c>
/// sessions are served at once (<see cref="LimitedListenerFactory"/>). With a certificate (<see cref="ListenerCertificate"/>)
/// it offers STARTTLS.
/// </summary>
public sealed class BounceListener(IOptions<BounceListenerOptions> options, IServiceScopeFactory scopes, ILogger<BounceListener> logger) : HostedSmtpServer
{
    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        var settings = options.Value;
        if (settings.Port == 0)
        {
            return;
        }

        var endpoint = new IPEndPoint(IPAddress.Parse(settings.Address), settings.Port);
        var certificate = settings.OffersStartTls ? new ListenerCertificate(settings.CertificatePath!, settings.CertificateKeyPath!, logger) : null;
        var serverOptions = new SmtpServerOptionsBuilder()
            .ServerName(settings.ServerName ?? Dns.GetHostName())
            .Endpoint(e =>
            {
                e.Endpoint(endpoint).SessionTimeout(settings.SessionTimeout);
                if (certificate is not null)
                {
                    // Offered, not required: RFC 3207 forbids a public MX to insist, and a sender without TLS would keep its bounce.
                    e.Certificate(certificate).SupportedSslProtocols(SslProtocols.Tls12 | SslProtocols.Tls13);
                }
            })
            .MaxMessageSize(ReportBody.MaxBytes, MaxMessageSizeHandling.Strict)
            .Build();

        var services = new SmtpServerServices();
        services.Add(new DomainFilter(settings.Domains));
        services.Add(new ReportStore(scopes, logger, Saving));
        await StartServerAsync(serverOptions, services, new LimitedListenerFactory(settings.MaxSessions),
            reason => $"The bounce listener cannot listen on {endpoint} ({reason}). Set Status:BounceListener:Port (and Address) to a free one, or 0 for no listener.",
            cancellationToken);
        Log.Listening(logger, Endpoint!, string.Join(", ", settings.Domains), certificate?.Describe() ?? "not offered");
    }

    /// <summary>
    /// Accepts a connection only while fewer than <paramref name="maxSessions"/> sessions are open: the listener's accept
    /// loop waits for a place before it takes the next one from the listen queue, and a session gives its place back
    /// when its connection is disposed, however it ended.
    /// </summary>
    private sealed class LimitedListenerFactory(int maxSessions) : EndpointListenerFactory
    {
        private readonly SemaphoreSlim _places = new(maxSessions, maxSessions);

        public override IEndpointListener CreateListener(IEndpointDefinition endpointDefinition) =>
            new LimitedListener(base.CreateListener(endpointDefinition), _places);

        private sealed class LimitedListener(IEndpointListener inner, SemaphoreSlim places) : IEndpointListener
        {
            public async Task<ISecurableDuplexPipe> GetPipeAsync(ISessionContext context, CancellationToken cancellationToken)
            {
                await places.WaitAsync(cancellationToken);
                try
                {
                    return new PlacedPipe(await inner.GetPipeAsync(context, cancellationToken), places);
                }
                catch
                {
                    places.Release();
                    throw;
                }
            }

            public void Dispose() => inner.Dispose();
        }

        /// <summary>A session's connection, which gives its place back once, when it is disposed.</summary>
        private sealed class PlacedPipe(ISecurableDuplexPipe inner, SemaphoreSlim places) : ISecurableDuplexPipe
        {
            private int _released;

            public PipeReader Input => inner.Input;

            public PipeWriter Output => inner.Output;

            public bool IsSecure => inner.IsSecure;

            public SslProtocols SslProtocol => inner.SslProtocol;

            public Task UpgradeAsync(X509Certificate certificate, SslProtocols protocols, CancellationToken cancellationToken = default) =>
                inner.UpgradeAsync(certificate, protocols, cancellationToken);

            public void Dispose()
            {
                inner.Dispose();
                if (Interlocked.Exchange(ref _released, 1) == 0)
                {
                    places.Release();
                }
            }
        }
    }

    /// <summary>Takes recipients in the configured domains only, from any sender (a bounce's is empty).</summary>
    private sealed class DomainFilter(string[] domains) : MailboxFilter
    {
        public override Task<bool> CanDeliverToAsync(ISessionContext context, IMailbox to, IMailbox from, CancellationToken cancellationToken) =>
            Task.FromResult(domains.Any(d => string.Equals(d.TrimEnd('.'), to.Host?.TrimEnd('.'), StringComparison.OrdinalIgnoreCase)));
    }

    /// <summary>
    /// Records each message before it answers: as a complaint when it is a feedback report (RFC 5965), otherwise as a
    /// bounce report. A stop waits for the reports being recorded.
    /// </summary>
    private sealed class ReportStore(IServiceScopeFactory scopes, ILogger logger, Func<Task<SmtpResponse>, Task<SmtpResponse>> saving) : MessageStore
    {
        public override Task<SmtpResponse> SaveAsync(
            ISessionContext context, IMessageTransaction transaction, ReadOnlySequence<byte> buffer, CancellationToken cancellationToken) =>
            saving(RecordAsync(buffer.ToArray(), cancellationToken));

        private async Task<SmtpResponse> RecordAsync(byte[] received, CancellationToken cancellationToken)
        {
            try
            {
                await using var scope = scopes.CreateAsyncScope();
                var (message, error) = await ReportBody.ParseAsync(received, cancellationToken);
                if (message is null)
                {
                    scope.ServiceProvider.GetRequiredService<BounceMetrics>().Received("smtp", ReportRefusal.InvalidMessage);
                    return new SmtpResponse((SmtpReplyCode)554, "5.6.0 Not a message: " + OneLine(error));
                }

                return FeedbackReport.IsIn(message)
                    ? Answer(await scope.ServiceProvider.GetRequiredService<ComplaintReports>().RecordAsync(message, received, "smtp", cancellationToken),
                        recorded => $"2.0.0 Complaint report for email {recorded.EmailId} {recorded.Result.Replace('_', ' ')}",
                        "5.6.0 Not a feedback report (RFC 5965); nothing was recorded")
                    : Answer(await scope.ServiceProvider.GetRequiredService<BounceReports>().RecordAsync(message, received, "smtp", cancellationToken),
                        recorded => $"2.0.0 Bounce report for email {recorded.EmailId} recorded",
                        "5.6.0 Not a delivery status notification (RFC 3464) nor a feedback report (RFC 5965); nothing was recorded");
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                Log.RecordFailed(logger, ex);
                return new SmtpResponse((SmtpReplyCode)451, "4.3.0 The report cannot be recorded now; try again later");
            }
        }

        // By number: SmtpServer's names do not say which reply they are.
        private static SmtpResponse Answer<TResponse>(ReportOutcome<TResponse> outcome, Func<TResponse, string> recorded, string notAReport)
            where TResponse : class => outcome.Refusal switch
        {
            null => new SmtpResponse(SmtpReplyCode.Ok, recorded(outcome.Recorded!)),
            ReportRefusal.InvalidMessage => new SmtpResponse((SmtpReplyCode)554, "5.6.0 Not a message: " + OneLine(outcome.Detail)),
            ReportRefusal.NotAReport => new SmtpResponse((SmtpReplyCode)550, notAReport),
            ReportRefusal.NotRecordedYet => new SmtpResponse((SmtpReplyCode)451, "4.3.0 The email of this report is not recorded yet; try again later"),
            _ => new SmtpResponse((SmtpReplyCode)550, "5.1.0 The report names no email sent here; nothing was recorded"),
        };

        private static string OneLine(string? text) => (text ?? "").ReplaceLineEndings(" ");
    }
}
