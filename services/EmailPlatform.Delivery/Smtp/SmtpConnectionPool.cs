using EmailPlatform.Contracts;
using EmailPlatform.Delivery.Relays;
using MailKit.Net.Smtp;

namespace EmailPlatform.Delivery.Smtp;

/// <summary>
/// The connections to one relay: at most <see cref="RelayOptions.MaxConnections"/> open at once (in use plus idle),
/// reused across messages, most recently used first so that surplus connections idle out. A connection is closed
/// instead of reused after <c>Delivery:MaxMessagesPerConnection</c> messages, after <c>Delivery:ConnectionIdleTimeout</c>
/// unused, when a NOOP check fails after it sat idle, or after any transport fault; the next rent opens a new one. A
/// connection used less than a second ago is not checked: one the relay closed after its last reply is found dead by the
/// next transaction, which <see cref="SmtpRelayClient"/> then sends again on a new one (<see cref="Replace"/>).
/// With every connection busy, the next one to come free goes to the waiting message of the highest priority
/// (<see cref="PrioritySlots"/>).
/// </summary>
internal sealed class SmtpConnectionPool(RelayOptions relay, DeliveryOptions options, TimeProvider time, ILogger logger) : IAsyncDisposable
{
    /// <summary>A connection idle longer than this is checked with NOOP before it carries a message.</summary>
    private static readonly TimeSpan CheckAfterIdle = TimeSpan.FromSeconds(1);

    private readonly PrioritySlots _slots = new(relay.MaxConnections);
    private readonly System.Net.Security.RemoteCertificateValidationCallback? _validateCertificate = RelayCertificates.ValidatorFor(relay);
    private readonly List<PooledConnection> _idle = [];
    private readonly Lock _gate = new();
    private int _opened;

    public RelayOptions Relay => relay;

    /// <summary>Connections opened since start (each new SMTP session counts once).</summary>
    public int Opened => Volatile.Read(ref _opened);

    /// <summary>Connections carrying a message right now (or being opened for one).</summary>
    public int InUse => _slots.InUse;

    /// <summary>
    /// A connection to send one message over: an idle one that still works, or a new one (not yet connected: the
    /// caller connects it, so a connect failure is classified like any other). Always give it back with
    /// <see cref="Return"/>.
    /// </summary>
    public async Task<PooledConnection> RentAsync(EmailPriority priority, CancellationToken cancellationToken)
    {
        await _slots.WaitAsync(priority, cancellationToken);
        try
        {
            while (TakeIdle() is { } idle)
            {
                bool usable;
                try
                {
                    usable = await IsUsableAsync(idle, cancellationToken);
                }
                catch
                {
                    // Cancelled during the NOOP check (MailKit has dropped the session then): out of the pool, so disposed here.
                    await CloseAsync(idle);
                    throw;
                }

                if (usable)
                {
                    return idle;
                }

                await CloseAsync(idle);
            }

            return Open();
        }
        catch
        {
            _slots.Release();
            throw;
        }
    }

    /// <summary>Gives a connection back: kept for the next message when <paramref name="reusable"/> and still fit, else closed.</summary>
    public void Return(PooledConnection connection, bool reusable)
    {
        connection.LastUsed = time.GetTimestamp();
        if (reusable && connection.Client.IsConnected && connection.Messages < options.MaxMessagesPerConnection)
        {
            lock (_gate)
            {
                _idle.Add(connection);
            }
        }
        else
        {
            _ = CloseAsync(connection);
        }

        _slots.Release();
    }

    /// <summary>
    /// Closes a rented connection that turned out to be dead and gives a new one (not yet connected) in its place, in the
    /// same slot: the message it was to carry does not wait for a connection again, and no more than
    /// <see cref="RelayOptions.MaxConnections"/> are open. Give the new one back with <see cref="Return"/>.
    /// </summary>
    public PooledConnection Replace(PooledConnection dead)
    {
        _ = CloseAsync(dead);
        return Open();
    }

    /// <summary>Closes the idle connections unused for longer than <c>Delivery:ConnectionIdleTimeout</c>.</summary>
    public async Task ReapAsync()
    {
        List<PooledConnection> expired;
        lock (_gate)
        {
            expired = _idle.Where(IdleTooLong).ToList();
            _idle.RemoveAll(IdleTooLong);
        }

        foreach (var connection in expired)
        {
            await CloseAsync(connection);
        }
    }

    public async ValueTask DisposeAsync()
    {
        List<PooledConnection> idle;
        lock (_gate)
        {
            idle = [.. _idle];
            _idle.Clear();
        }

        await Task.WhenAll(idle.Select(CloseAsync));
    }

    private PooledConnection Open()
    {
        Interlocked.Increment(ref _opened);
        var client = new RecipientRecordingSmtpClient
        {
            Timeout = (int)options.CommandTimeout.TotalMilliseconds,
            ServerCertificateValidationCallback = _validateCertificate,
            CheckCertificateRevocation = relay.CheckCertificateRevocation,
        };
        return new PooledConnection(client, time.GetTimestamp());
    }

    private PooledConnection? TakeIdle()
    {
        lock (_gate)
        {
            if (_idle.Count == 0)
            {
                return null;
            }

            var last = _idle[^1];
            _idle.RemoveAt(_idle.Count - 1);
            return last;
        }
    }

    private bool IdleTooLong(PooledConnection connection) => time.GetElapsedTime(connection.LastUsed) > options.ConnectionIdleTimeout;

    private async Task<bool> IsUsableAsync(PooledConnection connection, CancellationToken cancellationToken)
    {
        if (!connection.Client.IsConnected || IdleTooLong(connection))
        {
            return false;
        }

        if (time.GetElapsedTime(connection.LastUsed) < CheckAfterIdle)
        {
            return true;
        }

        try
        {
            // The relay may have dropped a connection that sat idle: find out now, not in the middle of a message.
            await connection.Client.NoOpAsync(cancellationToken);
            return true;
        }
        catch (Exception ex) when (SmtpFaults.IsTransportFault(ex) || ex is SmtpCommandException)
        {
            if (cancellationToken.IsCancellationRequested)
            {
                throw;
            }

            Log.StaleConnection(logger, ex, relay.Name);
            return false;
        }
    }

    private async Task CloseAsync(PooledConnection connection)
    {
        try
        {
            if (connection.Client.IsConnected)
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                await connection.Client.DisconnectAsync(quit: true, timeout.Token);
            }
        }
        catch (Exception ex) when (SmtpFaults.IsTransportFault(ex) || ex is SmtpCommandException)
        {
            Log.QuitFailed(logger, ex, relay.Name);
        }
        finally
        {
            connection.Client.Dispose();
        }
    }
}
