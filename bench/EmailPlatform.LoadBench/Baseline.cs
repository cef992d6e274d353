using System.Diagnostics;
using System.Net.Sockets;
using MailKit.Net.Smtp;
using MailKit.Security;

namespace EmailPlatform.LoadBench;

/// <summary>
/// The ceiling the platform is compared with: a bare MailKit loop that keeps <c>connections</c> SMTP connections open
/// to the same sink and sends the same messages over them as fast as the sink answers. No HTTP, no store, no broker.
/// Its connections are made as the worker makes its own, Nagle's algorithm off.
/// </summary>
internal static class Baseline
{
    public static async Task<(int Sent, TimeSpan Elapsed)> RunAsync(BenchEmails emails, string host, int port, int count, int connections)
    {
        var issued = -1L;
        var start = Stopwatch.GetTimestamp();
        var senders = Enumerable.Range(0, connections).Select(_ => Task.Run(async () =>
        {
            using var smtp = new SmtpClient();
            // Nagle off, as the worker has it (RelaySockets): MailKit leaves it on, and every message longer than a
            // segment would then wait for the sink's delayed acknowledgement of its body.
            var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            await socket.ConnectAsync(host, port);
            await smtp.ConnectAsync(socket, host, port, SecureSocketOptions.None);
            var sent = 0;
            long index;
            while ((index = Interlocked.Increment(ref issued)) < count)
            {
                using var message = emails.Mime(index);
                await smtp.SendAsync(message);
                sent++;
            }

            await smtp.DisconnectAsync(quit: true);
            return sent;
        }));
        var total = (await Task.WhenAll(senders)).Sum();
        return (total, Stopwatch.GetElapsedTime(start));
    }
}
