namespace EmailPlatform.Delivery.Relays;

/// <summary>
/// A relay's circuit breaker. After <c>Delivery:BreakerFailureThreshold</c> transport failures in a row (refused,
/// reset, timed out, TLS failure, session broken) the relay is skipped for <c>Delivery:BreakerCoolDown</c> and traffic
/// fails over. Then one message probes it (half-open): a reply from the relay closes the breaker, another transport
/// failure opens it for a new cool-down. SMTP replies, even 4xx/5xx, are the relay working and count as success.
/// </summary>
internal sealed class RelayBreaker(DeliveryOptions options, TimeProvider time)
{
    private readonly Lock _gate = new();
    private int _failures;
    private DateTimeOffset? _openUntil;
    private bool _probing;

    /// <summary>Closed; half-open (cooled down, or its probe is out); open (skipped).</summary>
    public BreakerState State
    {
        get
        {
            lock (_gate)
            {
                return _openUntil is not { } until ? BreakerState.Closed
                    : _probing || time.GetUtcNow() >= until ? BreakerState.HalfOpen
                    : BreakerState.Open;
            }
        }
    }

    /// <summary>
    /// Whether a message may go to the relay now; in half-open state only the one probe may (<paramref name="probe"/>:
    /// this message is it).
    /// </summary>
    public bool TryEnter(out bool probe)
    {
        probe = false;
        lock (_gate)
        {
            if (_openUntil is not { } until)
            {
                return true;
            }

            if (time.GetUtcNow() < until || _probing)
            {
                return false;
            }

            _probing = probe = true;
            return true;
        }
    }

    /// <summary>
    /// The message that entered never reached the relay (its claim was lost, or shutdown): if it was the probe
    /// (<paramref name="probe"/>, from <see cref="TryEnter"/>), another may go. A message that entered while the breaker
    /// was closed leaves a probe sent since alone.
    /// </summary>
    public void Abandoned(bool probe)
    {
        if (!probe)
        {
            return;
        }

        lock (_gate)
        {
            _probing = false;
        }
    }

    public void Succeeded()
    {
        lock (_gate)
        {
            _failures = 0;
            _openUntil = null;
            _probing = false;
        }
    }

    /// <returns>True when this failure opened the breaker.</returns>
    public bool Failed()
    {
        lock (_gate)
        {
            _failures++;
            if (_probing || (_openUntil is null && _failures >= options.BreakerFailureThreshold))
            {
                _probing = false;
                _openUntil = time.GetUtcNow() + options.BreakerCoolDown;
                return true;
            }

            return false;
        }
    }
}

/// <summary>A breaker's state as the <c>emailplatform.relay.breaker.state</c> gauge reports it.</summary>
internal enum BreakerState
{
    Closed = 0,
    HalfOpen = 1,
    Open = 2,
}
