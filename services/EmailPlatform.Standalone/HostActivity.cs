using System.Globalization;

namespace EmailPlatform.Standalone;

/// <summary>
/// Keeps <c>data/last-active</c>: the last moment this host is known to have run, written at start, every
/// <see cref="Interval"/> and at stop. The stores' retention purges run only while the host runs, so what they can have
/// deleted is bounded by this moment, not by the time of the next start: <see cref="InMemoryBusRecovery"/> measures its
/// window from it, and a host that was off for a week still recovers what its last stop lost.
/// </summary>
internal sealed partial class HostActivity(StandaloneOptions options, TimeProvider clock, ILogger<HostActivity> logger) : BackgroundService
{
    public static readonly TimeSpan Interval = TimeSpan.FromMinutes(1);

    /// <summary>
    /// One write at a time in the process: a host stopped twice at once (a test's <c>WebApplicationFactory</c> and the
    /// application's own <c>RunAsync</c>, dotnet/aspnetcore#40271), or a late stop beside the next host's start, writes
    /// twice at once, and through the one temporary file a rename would find it gone, take that for a failure and delete
    /// the moment.
    /// </summary>
    private static readonly Lock Writing = new();

    /// <summary>
    /// The latest moment the host that wrote <paramref name="file"/> can have run (the last write plus one
    /// <see cref="Interval"/>, for a kill between two writes); null when there is no such file or it cannot be read.
    /// </summary>
    public static DateTime? LastActive(string file)
    {
        try
        {
            return File.Exists(file)
                && DateTime.TryParse(File.ReadAllText(file).Trim(), CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var at)
                ? at + Interval
                : null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Interval, clock);
        try
        {
            do
            {
                Write();
            }
            while (await timer.WaitForNextTickAsync(stoppingToken));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping: StopAsync writes the last one.
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        Write();
    }

    /// <summary>Through a temporary file and a rename: a kill mid-write leaves the previous moment, never half of one.</summary>
    private void Write()
    {
        lock (Writing)
        {
            var file = options.LastActiveFile;
            var temporary = file + ".tmp";
            try
            {
                File.WriteAllText(temporary, clock.GetUtcNow().UtcDateTime.ToString("O", CultureInfo.InvariantCulture));
                File.Move(temporary, file, overwrite: true);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // A stale moment would widen the next start's window over what the purges have since deleted, and mail
                // would be sent twice; with none, the next start measures from its own time, as a first start does.
                WriteFailed(logger, file, ex);
                try
                {
                    File.Delete(file);
                }
                catch (Exception deleting) when (deleting is IOException or UnauthorizedAccessException)
                {
                    WriteFailed(logger, file, deleting);
                }
            }
        }
    }

    [LoggerMessage(EventId = 8002, Level = LogLevel.Warning,
        Message = "Could not record the host's last active moment in {File}; the next start recovers only what its own time's retention window holds")]
    private static partial void WriteFailed(ILogger logger, string file, Exception exception);
}
