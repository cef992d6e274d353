using EmailPlatform.ServiceDefaults.Shutdown;
using MassTransit;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace EmailPlatform.ServiceDefaults.Messaging;

/// <summary>
/// MassTransit's hosted service, with its stop bounded by <see cref="ShutdownOptions.BusStopLimit"/>. MassTransit
/// passes its stop timeout on as a token, but not everything it then waits for heeds it: the in-memory transport waits
/// without a limit for every message it has taken, and a consume that ignores its cancellation (an SMTP transaction past
/// <c>MAIL FROM</c>, which is not cancelled) holds it as long as it runs. The host's <c>StopAsync</c> waits for each
/// service's, so such a stop kept the process alive past <c>Shutdown:Timeout</c>, until its SIGKILL. Here the host stops
/// waiting at the limit; what is still running is cut off with the process.
/// </summary>
internal sealed class BoundedBusStop(MassTransitHostedService bus, IOptions<ShutdownOptions> shutdown, ILogger<BoundedBusStop> logger)
    : IHostedService, IAsyncDisposable
{
    public Task StartAsync(CancellationToken cancellationToken) => bus.StartAsync(cancellationToken);

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        var limit = shutdown.Value.BusStopLimit;
        try
        {
            await bus.StopAsync(cancellationToken).WaitAsync(limit, cancellationToken);
        }
        catch (Exception ex) when (ex is TimeoutException || (ex is OperationCanceledException && cancellationToken.IsCancellationRequested))
        {
            Log.BusStopOutlasted(logger, limit);
        }
    }

    public ValueTask DisposeAsync() => bus.DisposeAsync();
}

internal static partial class Log
{
    [LoggerMessage(7001, LogLevel.Warning,
        "The bus did not stop within {Limit} (Shutdown:Timeout less 3 s): the host stops without it, and what it still runs is cut off with the process")]
    public static partial void BusStopOutlasted(ILogger logger, TimeSpan limit);
}
