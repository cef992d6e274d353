using System.Buffers;
using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography.X509Certificates;
using SmtpServer;
using SmtpServer.Authentication;
using SmtpServer.ComponentModel;
using SmtpServer.Mail;
using SmtpServer.Net;
using SmtpServer.Protocol;
using SmtpServer.Storage;
using SmtpServerHost = SmtpServer.SmtpServer;

namespace EmailPlatform.Testing;

/// <summary>What the scripted relay received: the envelope as sent over the wire and the raw message.</summary>
public sealed record ReceivedMessage(string MailFrom, IReadOnlyList<string> RcptTo, byte[] Raw)
{
    /// <summary>Whether the session was encrypted (implicit TLS or STARTTLS) when the message came.</summary>
    public bool Secure { get; init; }

    /// <summary>The user the session authenticated as (SMTP AUTH); null when it did not.</summary>
    public string? User { get; init; }
}

/// <summary>
/// How the scripted relay secures its sessions: with <paramref name="Certificate"/> it offers STARTTLS, or with
/// <paramref name="Implicit"/> as well speaks TLS from the first byte (SMTPS); with <paramref name="Login"/> it offers AUTH
/// (over TLS only) and refuses MAIL FROM until a session has authenticated with exactly those credentials.
/// </summary>
public sealed record ScriptedSecurity(X509Certificate2? Certificate = null, bool Implicit = false, (string User, string Password)? Login = null);

/// <summary>
/// A real SMTP server (the SmtpServer package) on 127.0.0.1 and an OS-chosen port, answering as scripted:
/// per-recipient RCPT replies, a MAIL FROM reply, a reply to the final dot, or a dropped connection at DATA. Plain text
/// unless started with a <see cref="ScriptedSecurity"/> (STARTTLS or implicit TLS, and AUTH).
/// </summary>
public sealed class ScriptedSmtpServer : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop;
    private readonly SmtpServerHost _server;
    private readonly Task _running;
    private readonly Sessions _sessions;
    private int _disposed;

    private ScriptedSmtpServer(SmtpServerHost server, CancellationTokenSource stop, Task running, int port, Sessions sessions)
    {
        _server = server;
        _stop = stop;
        _running = running;
        Port = port;
        _sessions = sessions;
    }

    public int Port { get; }

    /// <summary>Replies to RCPT TO by address; unlisted recipients are accepted with 250.</summary>
    public ConcurrentDictionary<string, SmtpResponse> RcptReplies { get; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>A refusal of MAIL FROM; null accepts.</summary>
    public SmtpResponse? MailFromReply { get; set; }

    /// <summary>Runs when MAIL FROM has arrived, before the server answers it (to hold the sender there).</summary>
    public Func<Task>? BeforeMailFromReply { get; set; }

    /// <summary>The reply to the final dot; null stores the message and answers 250.</summary>
    public SmtpResponse? DataReply { get; set; }

    /// <summary>Drop the connection after the message data, without a reply.</summary>
    public bool DisconnectAfterData { get; set; }

    /// <summary>Runs when a message has arrived, before the server answers the final dot (to break something then).</summary>
    public Func<Task>? BeforeDataReply { get; set; }

    public ConcurrentQueue<ReceivedMessage> Received { get; } = new();

    /// <summary>The MAIL FROM address of every transaction begun, as it came on the wire, whatever became of it.</summary>
    public ConcurrentQueue<string> MailFrom { get; } = new();

    /// <param name="port">0 for an OS-chosen port; a given one to come back where a stopped server was.</param>
    /// <param name="security">TLS and AUTH; none (plain text, no AUTH) when null.</param>
    public static async Task<ScriptedSmtpServer> StartAsync(int port = 0, ScriptedSecurity? security = null)
    {
        var listeners = new EndpointListenerFactory();
        var started = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        listeners.EndpointStarted += (_, e) => started.TrySetResult(((IPEndPoint)e.LocalEndPoint).Port);

        var options = new SmtpServerOptionsBuilder()
            .ServerName("scripted.test")
            .Endpoint(e =>
            {
                e.Endpoint(new IPEndPoint(IPAddress.Loopback, port));
                if (security?.Certificate is { } certificate)
                {
                    e.Certificate(certificate).IsSecure(security.Implicit);
                }

                if (security?.Login is not null)
                {
                    e.AuthenticationRequired();
                }
            })
            .Build();

        var services = new ServiceProvider();
        services.Add(listeners);
        if (security?.Login is { } login)
        {
            services.Add((IUserAuthenticator)new DelegatingUserAuthenticator((user, password) => user == login.User && password == login.Password));
        }

        ScriptedSmtpServer? self = null;
        var sessions = new Sessions();
        var script = new Script(() => self!, sessions);
        services.Add((IMailboxFilter)script);
        services.Add((IMessageStore)script);

        var server = new SmtpServerHost(options, services);
        server.SessionCreated += (_, e) => sessions.Add(e.Context);
        server.SessionCompleted += (_, e) => sessions.Remove(e.Context);
        server.SessionFaulted += (_, e) => sessions.Remove(e.Context);
        server.SessionCancelled += (_, e) => sessions.Remove(e.Context);
        var stop = new CancellationTokenSource();
        var running = server.StartAsync(stop.Token);
        var bound = await started.Task.WaitAsync(TimeSpan.FromSeconds(10));
        self = new ScriptedSmtpServer(server, stop, running, bound, sessions);
        return self;
    }

    /// <summary>
    /// Stops the way a relay that goes away does: open sessions are cut off without a reply. (Cancelled mid-message,
    /// the SmtpServer package itself would answer 554 "transaction failed", a permanent refusal no real relay gives
    /// when it shuts down, and the worker would rightly bounce the recipients.)
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        _sessions.CutAll();
        _server.Shutdown();
        await _stop.CancelAsync();
        await Task.WhenAny(_running, Task.Delay(TimeSpan.FromSeconds(5)));
        _stop.Dispose();
    }

    /// <summary>
    /// The open sessions. Once <see cref="CutAll"/> has run, every session is cut off: those open then at once, one
    /// that opens later (a connection the listener took just before it stopped) as it is created, and any that still
    /// reaches a command the script answers. A session the server had to cancel instead would get its 554.
    /// </summary>
    private sealed class Sessions
    {
        private readonly ConcurrentDictionary<ISessionContext, byte> _open = new();
        private volatile bool _cut;

        public void Add(ISessionContext session)
        {
            _open.TryAdd(session, 0);
            if (_cut)
            {
                session.Pipe?.Dispose();
            }
        }

        public void Remove(ISessionContext session) => _open.TryRemove(session, out _);

        public void CutAll()
        {
            // The flag first: a session added while this runs is then either seen below or cut by Add.
            _cut = true;
            foreach (var session in _open.Keys)
            {
                session.Pipe?.Dispose();
            }
        }

        /// <summary>Cuts <paramref name="session"/> off if the server is stopping; true if it did.</summary>
        public bool CutIfStopping(ISessionContext session)
        {
            if (!_cut)
            {
                return false;
            }

            session.Pipe?.Dispose();
            return true;
        }
    }

    /// <summary>Both the mailbox filter and the message store, reading the script of the server it belongs to.</summary>
    private sealed class Script(Func<ScriptedSmtpServer> server, Sessions sessions) : MessageStore, IMailboxFilter
    {
        public async Task<bool> CanAcceptFromAsync(ISessionContext context, IMailbox from, int size, CancellationToken cancellationToken)
        {
            ThrowIfStopping(context);
            server().MailFrom.Enqueue(from.AsAddress());
            if (server().BeforeMailFromReply is { } before)
            {
                await before();
            }

            return server().MailFromReply is { } reply ? throw new SmtpResponseException(reply) : true;
        }

        public Task<bool> CanDeliverToAsync(ISessionContext context, IMailbox to, IMailbox from, CancellationToken cancellationToken)
        {
            ThrowIfStopping(context);
            return server().RcptReplies.TryGetValue(to.AsAddress(), out var reply) ? throw new SmtpResponseException(reply) : Task.FromResult(true);
        }

        public override async Task<SmtpResponse> SaveAsync(
            ISessionContext context, IMessageTransaction transaction, ReadOnlySequence<byte> buffer, CancellationToken cancellationToken)
        {
            ThrowIfStopping(context);
            var self = server();
            var raw = buffer.ToArray();
            if (self.BeforeDataReply is { } before)
            {
                await before();
            }

            if (self.DisconnectAfterData)
            {
                // Close the socket before the server can answer the final dot.
                context.Pipe.Dispose();
                throw new IOException("Scripted disconnect after DATA.");
            }

            if (self.DataReply is { } reply)
            {
                return reply;
            }

            self.Received.Enqueue(new ReceivedMessage(transaction.From.AsAddress(), transaction.To.Select(t => t.AsAddress()).ToList(), raw)
            {
                Secure = context.Pipe.IsSecure,
                User = context.Authentication.IsAuthenticated ? context.Authentication.User : null,
            });
            return SmtpResponse.Ok;
        }

        private void ThrowIfStopping(ISessionContext context)
        {
            if (sessions.CutIfStopping(context))
            {
                throw new IOException("The relay is stopping: the session is cut off without a reply.");
            }
        }
    }
}
