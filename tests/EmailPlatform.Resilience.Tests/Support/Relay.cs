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
    public IReadOnlyList<ReceivedMessage> Received => [.. _earlier, .. Server?.Received ?? []];

    /// <summary>Waits until the relay has <paramref name="count"/> messages, or <paramref name="orUntil"/> is done and it has stopped growing.</summary>
    public async Task ReceivedAsync(int count, Task orUntil)
    {
        while (Received.Count < count)
        {
            if (orUntil.IsCompleted)
            {
                var before = Received.Count;
                await Task.Delay(1000);
                if (Received.Count == before)
                {
                    return;
                }
            }
            else
            {
                await Task.Delay(20);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Server is { } server)
        {
            await server.DisposeAsync();
        }
    }
}
