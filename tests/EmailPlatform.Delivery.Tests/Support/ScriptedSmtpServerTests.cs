using System.Net.Sockets;
using System.Text;
using EmailPlatform.Testing;

namespace EmailPlatform.Delivery.Tests.Support;

/// <summary>
/// The scripted relay the fault tests stop and start must stop the way a relay that goes away does. A 554 from the
/// test server itself would make the worker bounce a recipient (rightly: it is permanent), and a fault scenario
/// would then report an email that was never delivered.
/// </summary>
public sealed class ScriptedSmtpServerTests
{
    [Fact]
    public async Task StoppingMidMessageCutsTheSessionOffWithoutAReply()
    {
        var server = await ScriptedSmtpServer.StartAsync();
        try
        {
            using var client = new TcpClient();
            await client.ConnectAsync("127.0.0.1", server.Port);
            var stream = client.GetStream();
            var reader = new StreamReader(stream, Encoding.ASCII);
            Assert.StartsWith("220", await reader.ReadLineAsync());
            foreach (var command in new[] { "HELO worker.test", "MAIL FROM:<a@example.com>", "RCPT TO:<b@example.com>", "DATA" })
            {
                await stream.WriteAsync(Encoding.ASCII.GetBytes(command + "\r\n"));
                Assert.Matches("^(250|354)", await reader.ReadLineAsync());
            }

            await stream.WriteAsync(Encoding.ASCII.GetBytes("Subject: half a message\r\n\r\nand no final dot yet\r\n"));
            await server.DisposeAsync();

            // Whatever the server still says before the connection ends, it is no reply to the message.
            var rest = await ReadToEndOrResetAsync(reader).WaitAsync(TimeSpan.FromSeconds(10));
            Assert.DoesNotContain("554", rest, StringComparison.Ordinal);
            Assert.Empty(server.Received);
        }
        finally
        {
            await server.DisposeAsync();
        }
    }

    private static async Task<string> ReadToEndOrResetAsync(StreamReader reader)
    {
        var read = new StringBuilder();
        try
        {
            while (await reader.ReadLineAsync() is { } line)
            {
                read.AppendLine(line);
            }
        }
        catch (IOException)
        {
            // Reset by the peer: cut off, as expected.
        }

        return read.ToString();
    }
}
