using Microsoft.Extensions.Logging;

namespace EmailPlatform.Delivery.Suppressions;

/// <summary>
/// Warns once at start when the worker has no suppression list: a distributed worker without
/// <c>Delivery:StatusUrl</c> sends to suppressed and hard-bounced addresses, and nothing else would say so.
/// </summary>
/// <remarks>
/// Checked when the host starts rather than when <c>AddDelivery</c> runs, since a host may register its own
/// <see cref="ISuppressionList"/> after that call (the standalone host checks its own store).
/// </remarks>
internal sealed partial class SuppressionListCheck(IServiceProvider services, ILogger<SuppressionListCheck> logger) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (services.GetService<ISuppressionList>() is null)
        {
            LogNoSuppressionList(logger);
        }

        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(4002, LogLevel.Warning,
        "Delivery:StatusUrl is not set: recipients are sent without a suppression check, so suppressed and hard-bounced " +
        "addresses are mailed. Set it to the status service's URL, e.g. http://status:8080")]
    private static partial void LogNoSuppressionList(ILogger logger);
}
