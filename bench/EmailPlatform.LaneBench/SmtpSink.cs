using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace EmailPlatform.LaneBench;

/// <summary>
/// A minimal discarding SMTP server on loopback that notes when each recipient's message was accepted (the 250 after
/// the final dot), by envelope recipient. Much faster than the worker, so it never is the bottleneck; it exists
/// because Postfix's smtp-sink cannot say when a given message arrived.
/// </summary>
internal sealed class SmtpSink : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accepting;

    public SmtpSink()
    {
        _listener.Start(512);
        _accepting = AcceptAsync();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>Recipient → <see cref="Stopwatch.GetTimestamp"/> when its message was accepted (first time).</summary>
    public ConcurrentDictionary<string, long> Accepted { get; } = new(StringComparer.OrdinalIgnoreCase);

    public int Messages => Volatile.Read(ref _messages);

    private int _messages;

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        try
        {
            await _accepting;
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
        {
            // Stopped.
        }
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            var client = await _listener.AcceptTcpClientAsync(_stop.Token);
            _ = Task.Run(() => ServeAsync(client));
        }
    }

    private async Task ServeAsync(TcpClient client)
    {
        using var _ = client;
        client.NoDelay = true;
        await using var stream = client.GetStream();
        using var reader = new StreamReader(stream, Encoding.Latin1, false, 64 * 1024);
        await using var writer = new StreamWriter(stream, Encoding.Latin1, 4096) { NewLine = "\r\n", AutoFlush = false };
        var recipients = new List<string>();
        try
        {
            await Reply(writer, "220 lanebench.sink ESMTP");
            while (await reader.ReadLineAsync(_stop.Token) is { } line)
            {
                var verb = line.Length >= 4 ? line[..4].ToUpperInvariant() : line.ToUpperInvariant();
                switch (verb)
                {
                    case "EHLO":
                        await Reply(writer, "250-lanebench.sink\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SIZE 52428800");
                        break;
                    case "HELO":
                        await Reply(writer, "250 lanebench.sink");
                        break;
                    case "MAIL":
                        recipients.Clear();
                        await Reply(writer, "250 2.1.0 Ok");
                        break;
                    case "RCPT":
                        var start = line.IndexOf('<');
                        var end = line.IndexOf('>');
                        recipients.Add(start >= 0 && end > start ? line[(start + 1)..end] : line[8..]);
                        await Reply(writer, "250 2.1.5 Ok");
                        break;
                    case "DATA":
                        await Reply(writer, "354 End data with <CR><LF>.<CR><LF>");
                        while (await reader.ReadLineAsync(_stop.Token) is { } data && data != ".")
                        {
                        }

                        var now = Stopwatch.GetTimestamp();
                        foreach (var recipient in recipients)
                        {
                            Accepted.TryAdd(recipient, now);
                        }

                        Interlocked.Increment(ref _messages);
                        await Reply(writer, "250 2.0.0 Ok: queued");
                        break;
                    case "QUIT":
                        await Reply(writer, "221 2.0.0 Bye");
                        return;
                    default:
                        // RSET, NOOP and anything else.
                        await Reply(writer, "250 2.0.0 Ok");
                        break;
                }
            }
        }
        catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // The client went away, or the sink is stopping.
        }
    }

    private static async Task Reply(StreamWriter writer, string text)
    {
        await writer.WriteLineAsync(text);
        await writer.FlushAsync();
    }
}
