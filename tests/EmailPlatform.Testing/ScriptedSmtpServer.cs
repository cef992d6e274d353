using System.Buffers;
using System.Collections.Concurrent;
using System.Net;
using SmtpServer;
using SmtpServer.ComponentModel;
using SmtpServer.Mail;
using SmtpServer.Net;
using SmtpServer.Protocol;
using SmtpServer.Storage;
using SmtpServerHost = SmtpServer.SmtpServer;

namespace EmailPlatform.Testing;

/// <summary>What the scripted relay received: the envelope as sent over the wire and the raw message.</summary>
public sealed record ReceivedMessage(string MailFrom, IReadOnlyList<string> RcptTo, byte[] Raw);

/// <summary>
/// A real SMTP server (the SmtpServer package) on 127.0.0.1 and an OS-chosen port, answering as scripted:
/// per-recipient RCPT replies, a MAIL FROM reply, a reply to the final dot, or a dropped connection at DATA.
/// </summary>
public sealed class ScriptedSmtpServer : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop;
    private readonly SmtpServerHost _server;
    private readonly Task _running;
    private readonly ConcurrentDictionary<ISessionContext, byte> _sessions;

    private ScriptedSmtpServer(SmtpServerHost server, CancellationTokenSource stop, Task running, int port, ConcurrentDictionary<ISessionContext, byte> sessions)
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

    /// <summary>The reply to the final dot; null stores the message and answers 250.</summary>
    public SmtpResponse? DataReply { get; set; }

    /// <summary>Drop the connection after the message data, without a reply.</summary>
    public bool DisconnectAfterData { get; set; }

    /// <summary>Runs when a message has arrived, before the server answers the final dot (to break something then).</summary>
    public Func<Task>? BeforeDataReply { get; set; }

    public ConcurrentQueue<ReceivedMessage> Received { get; } = new();

    /// <param name="port">0 for an OS-chosen port; a given one to come back where a stopped server was.</param>
    public static async Task<ScriptedSmtpServer> StartAsync(int port = 0)
    {
        var listeners = new EndpointListenerFactory();
        var started = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        listeners.EndpointStarted += (_, e) => started.TrySetResult(((IPEndPoint)e.LocalEndPoint).Port);

        var options = new SmtpServerOptionsBuilder()
            .ServerName("scripted.test")
            .Endpoint(e => e.Endpoint(new IPEndPoint(IPAddress.Loopback, port)))
            .Build();

        var services = new ServiceProvider();
        services.Add(listeners);
        ScriptedSmtpServer? self = null;
        var script = new Script(() => self!);
        services.Add((IMailboxFilter)script);
        services.Add((IMessageStore)script);

        var server = new SmtpServerHost(options, services);
        var sessions = new ConcurrentDictionary<ISessionContext, byte>();
        server.SessionCreated += (_, e) => sessions.TryAdd(e.Context, 0);
        server.SessionCompleted += (_, e) => sessions.TryRemove(e.Context, out var _);
        server.SessionFaulted += (_, e) => sessions.TryRemove(e.Context, out var _);
        server.SessionCancelled += (_, e) => sessions.TryRemove(e.Context, out var _);
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
        _server.Shutdown();
        foreach (var session in _sessions.Keys)
        {
            session.Pipe?.Dispose();
        }

        await _stop.CancelAsync();
        await Task.WhenAny(_running, Task.Delay(TimeSpan.FromSeconds(5)));
        _stop.Dispose();
    }

    /// <summary>Both the mailbox filter and the message store, reading the script of the server it belongs to.</summary>
    private sealed class Script(Func<ScriptedSmtpServer> server) : MessageStore, IMailboxFilter
    {
        public Task<bool> CanAcceptFromAsync(ISessionContext context, IMailbox from, int size, CancellationToken cancellationToken) =>
            server().MailFromReply is { } reply ? throw new SmtpResponseException(reply) : Task.FromResult(true);

        public Task<bool> CanDeliverToAsync(ISessionContext context, IMailbox to, IMailbox from, CancellationToken cancellationToken) =>
            server().RcptReplies.TryGetValue(to.AsAddress(), out var reply) ? throw new SmtpResponseException(reply) : Task.FromResult(true);

        public override async Task<SmtpResponse> SaveAsync(
            ISessionContext context, IMessageTransaction transaction, ReadOnlySequence<byte> buffer, CancellationToken cancellationToken)
        {
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

            self.Received.Enqueue(new ReceivedMessage(
                transaction.From.AsAddress(), transaction.To.Select(t => t.AsAddress()).ToList(), raw));
            return SmtpResponse.Ok;
        }
    }
}
