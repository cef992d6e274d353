using EmailPlatform.Testing;

namespace EmailPlatform.Resilience.Tests.Support;

/// <summary>
/// The scripted SMTP relay the workers deliver to, which can go away (connections refused) and come back on the same
/// port. What every incarnation received is kept, so duplicates are counted across the whole run.
/// </summary>
internal sealed class Relay : IAsyncDisposable
{
    private readonly List<ReceivedMessage> _earlier = [];

    private Relay(ScriptedSmtpServer server) => Server = server;

    /// <summary>The running server (to script its replies); null while the relay refuses connections.</summary>
    public ScriptedSmtpServer? Server { get; private set; }

    public int Port { get; private set; }

    public static async Task<Relay> StartAsync()
    {
        var server = await ScriptedSmtpServer.StartAsync();
        return new Relay(server) { Port = server.Port };
    }

    /// <summary>Stops listening: connections are refused until <see cref="StartAgainAsync"/>.</summary>
    public async Task StopAsync()
    {
        var server = Server ?? throw new InvalidOperationException("The relay is already stopped.");
        Server = null;
        await server.DisposeAsync();
        _earlier.AddRange(server.Received);
    }

    public async Task StartAgainAsync() => Server = await ScriptedSmtpServer.StartAsync(Port);

    /// <summary>Every message accepted with 250, by every incarnation of the relay.</summary>
    public IReadOnlyList<ReceivedMessage> Received
    {
        get
        {
            // A snapshot first: the queue grows while it is copied, and a spread would read past its first count.
            var current = Server?.Received.ToArray() ?? [];
            return [.. _earlier, .. current];
        }
    }

    /// <summary>How many messages the relay has accepted so far, without copying them.</summary>
    public int ReceivedCount => _earlier.Count + (Server?.Received.Count ?? 0);

    /// <summary>
    /// Waits until the relay has received <paramref name="fraction"/> of the emails the sender got accepted (of all it
    /// sends while it is still sending), so that a fault injected next lands while the workers are delivering.
    /// </summary>
    public async Task ReceivedAsync(double fraction, Sender sender)
    {
        var deadline = DateTime.UtcNow + FaultScale.Settle;
        while (DateTime.UtcNow < deadline)
        {
            var target = sender.Completion.IsCompleted ? sender.Accepted.Count : FaultScale.Emails;
            if (ReceivedCount >= Math.Max(1, (int)(target * fraction)))
            {
                return;
            }

            await Task.Delay(20);
        }

        throw new TimeoutException($"The relay received {ReceivedCount} emails in {FaultScale.Settle}, fewer than {fraction:P0} of those sent.");
    }

    public async ValueTask DisposeAsync()
    {
        if (Server is { } server)
        {
            await server.DisposeAsync();
        }
    }
}
