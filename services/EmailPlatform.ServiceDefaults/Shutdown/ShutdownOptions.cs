using System.ComponentModel.DataAnnotations;

namespace EmailPlatform.ServiceDefaults.Shutdown;

/// <summary>
/// Configuration section <c>Shutdown</c>: how long a host takes to stop once asked to (SIGTERM). A pod's termination
/// grace period (a container's stop timeout) must be longer, or the host is killed before it is done.
/// </summary>
public sealed class ShutdownOptions
{
    public const string SectionName = "Shutdown";

    /// <summary>
    /// The host's <c>HostOptions.ShutdownTimeout</c> (30 s): how long its services together may take to stop. Then the
    /// process exits, and whatever still runs is cut off, an SMTP transaction past <c>MAIL FROM</c> included (those are
    /// not cancelled, only bounded by <c>Delivery:CommandTimeout</c> and <c>Delivery:DataTimeout</c>). The bus stops
    /// within it: see <see cref="ConsumerStopTimeout"/> and <see cref="BusStopTimeout"/>.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:15", "01:00:00", ErrorMessage = "Shutdown:Timeout must be between 15 seconds and 1 hour.")]
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long MassTransit lets in-flight consumers run before it cancels their consume: <see cref="Timeout"/> less 10 s.</summary>
    public TimeSpan ConsumerStopTimeout => Timeout - TimeSpan.FromSeconds(10);

    /// <summary>
    /// How long MassTransit's stop may take in all: <see cref="Timeout"/> less 5 s, which leaves the host's other services
    /// (an outbox publisher, the HTTP server) time to stop within <see cref="Timeout"/>.
    /// </summary>
    public TimeSpan BusStopTimeout => Timeout - TimeSpan.FromSeconds(5);

    /// <summary>
    /// How long the host waits for MassTransit's stop at most: <see cref="BusStopTimeout"/> and 2 s for what MassTransit
    /// does when it is up (it cancels the consumes still running, which then hand their messages back), <see cref="Timeout"/>
    /// less 3 s. A stop that outlasts it (one that waits for something ignoring its cancellation) is not waited for.
    /// </summary>
    public TimeSpan BusStopLimit => BusStopTimeout + TimeSpan.FromSeconds(2);
}
