using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace EmailPlatform.Delivery.Tests.Support;

/// <summary>
/// A bare SMTP server over a real socket that offers no extensions beyond 8BITMIME (no SMTPUTF8, no PIPELINING):
/// the kind of older relay the SmtpServer package cannot play, since it always offers SMTPUTF8. It can also answer the
/// final dot with a refusal and close the connection at once, as many content filters do, which the SmtpServer
/// package cannot do either. Or it can refuse the DATA command itself and close, before any of the message is sent.
/// Or it can trickle its reply to the final dot: a continuation line now and then, never the last line, so that no
/// single read waits long but the reply never ends. It can do the same to its reply to RCPT TO, or stop reading once it
/// has answered DATA, as a relay whose disk is full might. Or it can close the connection right after accepting the
/// <c>MAIL FROM</c> of a session's n-th transaction, or part-way through the message data.
/// </summary>
internal sealed class MinimalSmtpServer : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly string _finalReply;
    private readonly bool _closeAfterFinalReply;
    private readonly string? _dataCommandRefusal;
    private readonly TimeSpan? _trickle;
    private readonly TimeSpan? _trickleRcpt;
    private readonly bool _stallData;
    private readonly int? _closeAfterMailFrom;
    private readonly bool _closeDuringData;
    private readonly Task _accepting;
    private int _sessions;

    /// <param name="finalReply">The reply to the final dot, one or more CRLF-separated lines.</param>
    /// <param name="closeAfterFinalReply">Close the connection right after that reply.</param>
    /// <param name="dataCommandRefusal">When set, the reply to the DATA command (instead of 354), after which the connection is closed.</param>
    /// <param name="trickleFinalReply">When set, the reply to the final dot is a continuation line at this interval, for ever.</param>
    /// <param name="trickleRcptReply">When set, the reply to RCPT TO is a continuation line at this interval, for ever.</param>
    /// <param name="stallData">Answer DATA with 354, then read nothing more.</param>
    /// <param name="closeAfterMailFrom">When set, close the connection right after accepting this <c>MAIL FROM</c> of a session (1 for its first).</param>
    /// <param name="closeDuringData">Answer DATA with 354, read the first line of the message, then close the connection.</param>
    public MinimalSmtpServer(
        string finalReply = "250 2.0.0 Ok: queued", bool closeAfterFinalReply = false, string? dataCommandRefusal = null, TimeSpan? trickleFinalReply = null,
        TimeSpan? trickleRcptReply = null, bool stallData = false, int? closeAfterMailFrom = null, bool closeDuringData = false)
    {
        _closeAfterMailFrom = closeAfterMailFrom;
        _closeDuringData = closeDuringData;
        _finalReply = finalReply;
        _closeAfterFinalReply = closeAfterFinalReply;
        _dataCommandRefusal = dataCommandRefusal;
        _trickle = trickleFinalReply;
        _trickleRcpt = trickleRcptReply;
        _stallData = stallData;
        _listener.Start();
        _accepting = AcceptAsync();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public int Sessions => Volatile.Read(ref _sessions);

    /// <summary>The RCPT TO addresses of every message received, one list per message.</summary>
    public ConcurrentQueue<IReadOnlyList<string>> Received { get; } = new();

    /// <summary>The MAIL FROM address of every transaction begun, as it came on the wire.</summary>
    public ConcurrentQueue<string> MailFrom { get; } = new();

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _accepting.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _stop.Dispose();
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            var socket = await _listener.AcceptTcpClientAsync(_stop.Token);
            Interlocked.Increment(ref _sessions);
            _ = Task.Run(() => ServeAsync(socket));
        }
    }

    private async Task ServeAsync(TcpClient socket)
    {
        using var _ = socket;
        var stream = socket.GetStream();
        using var reader = new StreamReader(stream, Encoding.UTF8);
        await using var writer = new StreamWriter(stream, new UTF8Encoding(false)) { NewLine = "\r\n", AutoFlush = true };
        var rcpt = new List<string>();
        var mailFroms = 0;
        try
        {
            await writer.WriteLineAsync("220 minimal.test ESMTP");
            while (await reader.ReadLineAsync(_stop.Token) is { } line)
            {
                var verb = line.Split(' ', 2)[0].ToUpperInvariant();
                switch (verb)
                {
                    case "EHLO":
                        await writer.WriteAsync("250-minimal.test\r\n250 8BITMIME\r\n");
                        break;
                    case "MAIL":
                        MailFrom.Enqueue(AddressIn(line));
                        await writer.WriteLineAsync("250 2.1.0 Ok");
                        if (++mailFroms == _closeAfterMailFrom)
                        {
                            return;
                        }

                        break;
                    case "RCPT":
                        rcpt.Add(AddressIn(line));
                        while (_trickleRcpt is { } rcptInterval)
                        {
                            await writer.WriteLineAsync("250-2.1.5 Still looking the recipient up");
                            await Task.Delay(rcptInterval, _stop.Token);
                        }

                        await writer.WriteLineAsync("250 2.1.5 Ok");
                        break;
                    case "DATA" when _dataCommandRefusal is not null:
                        await writer.WriteLineAsync(_dataCommandRefusal);
                        return;
                    case "DATA":
                        await writer.WriteLineAsync("354 End data with <CR><LF>.<CR><LF>");
                        if (_closeDuringData)
                        {
                            // Closed with the rest of the message unread: the peer gets a reset.
                            await reader.ReadLineAsync(_stop.Token);
                            return;
                        }

                        if (_stallData)
                        {
                            await Task.Delay(Timeout.Infinite, _stop.Token);
                        }

                        while (await reader.ReadLineAsync(_stop.Token) is { } data && data != ".")
                        {
                        }

                        Received.Enqueue(rcpt.ToList());
                        rcpt.Clear();
                        while (_trickle is { } interval)
                        {
                            await writer.WriteLineAsync("250-2.0.0 Still checking the message");
                            await Task.Delay(interval, _stop.Token);
                        }

                        await writer.WriteLineAsync(_finalReply);
                        if (_closeAfterFinalReply)
                        {
                            return;
                        }

                        break;
                    case "QUIT":
                        await writer.WriteLineAsync("221 2.0.0 Bye");
                        return;
                    case "RSET":
                        rcpt.Clear();
                        await writer.WriteLineAsync("250 2.0.0 Ok");
                        break;
                    default:
                        await writer.WriteLineAsync("250 2.0.0 Ok");
                        break;
                }
            }
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or ObjectDisposedException)
        {
        }
    }

    /// <summary>The address between the angle brackets of a MAIL FROM or RCPT TO command.</summary>
    private static string AddressIn(string line) => line[(line.IndexOf('<', StringComparison.Ordinal) + 1)..line.LastIndexOf('>')];
}
