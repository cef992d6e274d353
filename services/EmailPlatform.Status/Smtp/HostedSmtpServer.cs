using System.Collections.Concurrent;
using System.Net;
using SmtpServer;
using SmtpServer.Net;
using SmtpServer.Protocol;
using SmtpServerServices = SmtpServer.ComponentModel.ServiceProvider;

namespace EmailPlatform.Status.Smtp;

/// <summary>
/// An SMTP server (the SmtpServer package) run as a hosted service, with the lifetime every listener of ours needs: the
/// start fails, saying what to change, when its endpoint cannot be bound (rather than running without it); a stop takes
/// no new session, lets the messages being saved finish (their 250 is their sender's only proof), then closes the
/// sessions left, so a message still being received is answered by nothing and its sender sends it again. Subclasses
/// build their options and services and call <see cref="StartServerAsync"/>; their message stores hand each save to
/// <see cref="Saving"/>. Used by the status service's bounce listener and the standalone host's capture relay.
/// </summary>
public abstract class HostedSmtpServer : IHostedService, IDisposable
{
    private readonly CancellationTokenSource _stopping = new();
    private readonly Lock _lifetime = new();
    private readonly ConcurrentDictionary<Task, byte> _saving = new();
    private bool _disposed;
    private SmtpServer.SmtpServer? _server;
    private Task _running = Task.CompletedTask;

    /// <summary>The endpoint it listens on once started (the port the system chose, when it was asked for port 0).</summary>
    public IPEndPoint? Endpoint { get; private set; }

    public abstract Task StartAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Starts the server with <paramref name="services"/> (its message store and filters) and <paramref name="listeners"/>,
    /// and waits until it listens; throws with <paramref name="cannotListen"/>'s message, given the reason, when it cannot.
    /// </summary>
    protected async Task StartServerAsync(
        ISmtpServerOptions options, SmtpServerServices services, EndpointListenerFactory listeners, Func<string, string> cannotListen,
        CancellationToken cancellationToken)
    {
        var listening = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        listeners.EndpointStarted += (_, e) =>
        {
            Endpoint = e.LocalEndPoint as IPEndPoint;
            listening.TrySetResult();
        };

        services.Add(listeners);
        _server = new SmtpServer.SmtpServer(options, services);
        _running = _server.StartAsync(_stopping.Token);
        var first = await Task.WhenAny(listening.Task, _running).WaitAsync(TimeSpan.FromSeconds(10), cancellationToken);
        if (first == _running || _running.IsFaulted)
        {
            var reason = _running.Exception?.GetBaseException();
            throw new InvalidOperationException(cannotListen(reason?.Message ?? "it stopped"), reason);
        }
    }

    /// <summary>A message being saved, which a stop waits for before it closes the sessions.</summary>
    protected Task<SmtpResponse> Saving(Task<SmtpResponse> saving)
    {
        _saving.TryAdd(saving, 0);
        _ = saving.ContinueWith(t => _saving.TryRemove(t, out _), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        return saving;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_server is null || _stopping.IsCancellationRequested)
        {
            return;
        }

        _server.Shutdown();
        await Task.WhenAll(_saving.Keys).WaitAsync(cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        CloseSessions();
        await _running.WaitAsync(cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    /// <summary>
    /// Closes the listener and the sessions left, unless the host has disposed the server already: a host stopped twice at
    /// once (a test's <c>WebApplicationFactory</c> stopping it while the application's own <c>RunAsync</c> stops and then
    /// disposes it, dotnet/aspnetcore#40271) can dispose it while the other stop is still waiting for a message being saved.
    /// </summary>
    private void CloseSessions()
    {
        lock (_lifetime)
        {
            if (!_disposed)
            {
                _stopping.Cancel();
            }
        }
    }

    /// <summary>Closes the listener and the sessions too, for a host disposed without being stopped.</summary>
    public void Dispose()
    {
        lock (_lifetime)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            _stopping.Cancel();
            _stopping.Dispose();
        }

        GC.SuppressFinalize(this);
    }
}
