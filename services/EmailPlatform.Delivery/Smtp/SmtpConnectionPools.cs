using System.Collections.Concurrent;
using EmailPlatform.Delivery.Relays;
using Microsoft.Extensions.Options;

namespace EmailPlatform.Delivery.Smtp;

/// <summary>One <see cref="SmtpConnectionPool"/> per relay (by name), and a timer that closes idle connections.</summary>
internal sealed class SmtpConnectionPools : IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, SmtpConnectionPool> _pools = new(StringComparer.OrdinalIgnoreCase);
    private readonly DeliveryOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<SmtpConnectionPools> _logger;
    private readonly ITimer _reaper;

    public SmtpConnectionPools(IOptions<DeliveryOptions> options, TimeProvider time, ILogger<SmtpConnectionPools> logger)
    {
        _options = options.Value;
        _time = time;
        _logger = logger;
        var period = _options.ConnectionIdleTimeout < TimeSpan.FromSeconds(30) ? _options.ConnectionIdleTimeout : TimeSpan.FromSeconds(30);
        _reaper = time.CreateTimer(_ => _ = ReapAsync(), null, period, period);
    }

    public SmtpConnectionPool For(RelayOptions relay) =>
        _pools.GetOrAdd(relay.Name, _ => new SmtpConnectionPool(relay, _options, _time, _logger));

    public async ValueTask DisposeAsync()
    {
        await _reaper.DisposeAsync();
        foreach (var pool in _pools.Values)
        {
            await pool.DisposeAsync();
        }
    }

    private async Task ReapAsync()
    {
        foreach (var pool in _pools.Values)
        {
            await pool.ReapAsync();
        }
    }
}
