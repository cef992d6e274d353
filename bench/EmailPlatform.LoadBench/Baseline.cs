using System.Diagnostics;
using MailKit.Net.Smtp;
using MailKit.Security;

namespace EmailPlatform.LoadBench;

/// <summary>
/// The ceiling the platform is compared with: a bare MailKit loop that keeps <c>connections</c> SMTP connections open
/// to the same sink and sends the same messages over them as fast as the sink answers. No HTTP, no store, no broker.
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
            await smtp.ConnectAsync(host, port, SecureSocketOptions.None);
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
