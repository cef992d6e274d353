using System.Net;
using System.Net.Sockets;
using System.Text;

namespace EmailPlatform.Delivery.Tests.Support;

/// <summary>
/// A bare SMTP server on a loopback socket that takes every command (354 to DATA, 250 to the rest) and answers the
/// final dot with a given reply, then closes the connection at once, as many content filters do. The scripted relay
/// (the SmtpServer package) cannot close right after a reply, hence this one.
/// </summary>
internal sealed class ClosingAfterFinalDotRelay : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly string _finalReply;
    private readonly Task _serving;

    /// <param name="finalReply">The reply to the final dot, one or more CRLF-separated lines (e.g. <c>554 5.7.1 Spam</c>).</param>
    public ClosingAfterFinalDotRelay(string finalReply)
    {
        _finalReply = finalReply;
        _listener.Start();
        _serving = ServeAsync();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>Messages whose data was received in full.</summary>
    public int MessagesReceived { get; private set; }

    public async ValueTask DisposeAsync()
    {
        _listener.Stop();
        await _serving.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    private async Task ServeAsync()
    {
        while (true)
        {
            using var client = await _listener.AcceptTcpClientAsync();
            using var stream = client.GetStream();
            using var reader = new StreamReader(stream, Encoding.ASCII);
            async Task SayAsync(string reply) => await stream.WriteAsync(Encoding.ASCII.GetBytes(reply + "\r\n"));

            await SayAsync("220 closing-relay ESMTP");
            while (await reader.ReadLineAsync() is { } line)
            {
                var verb = line.Split(' ')[0].ToUpperInvariant();
                if (verb == "DATA")
                {
                    await SayAsync("354 End data with <CR><LF>.<CR><LF>");
                    while (await reader.ReadLineAsync() is { } data && data != ".")
                    {
                    }

                    MessagesReceived++;
                    await SayAsync(_finalReply);
                    break;
                }

                await SayAsync(verb switch
                {
                    "EHLO" => "250 closing-relay",
                    "QUIT" => "221 2.0.0 Bye",
                    _ => "250 2.0.0 Ok",
                });
            }
        }
    }
}
