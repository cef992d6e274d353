using EmailPlatform.Testing;
using Microsoft.Extensions.Logging.Abstractions;

namespace EmailPlatform.Standalone.Tests;

/// <summary>The host's last active moment, which the next start's recovery measures its window from.</summary>
public sealed class HostActivityTests : IDisposable
{
    private readonly string _dataDirectory = Directory.CreateTempSubdirectory("emailplatform-activity-").FullName;

    [Fact]
    public async Task StopsSideBySideAllRecordTheMomentAndNeitherDeletesIt()
    {
        // A host stopped twice at once (a test's WebApplicationFactory and the application's own RunAsync,
        // dotnet/aspnetcore#40271) wrote the moment twice at once: one write's rename found the other's temporary file
        // gone, took that for a failure and deleted the moment, and the next start, eight days later, recovered nothing
        // the stop had lost (once in CI). Four stops at once make the overlap likely within a few rounds.
        var options = new StandaloneOptions { DataDirectory = _dataDirectory };
        for (var round = 0; round < 200; round++)
        {
            var activity = new HostActivity(options, TimeProvider.System, NullLogger<HostActivity>.Instance);
            await activity.StartAsync(CancellationToken.None);
            using var start = new Barrier(4);
            await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(() => { start.SignalAndWait(); return activity.StopAsync(CancellationToken.None); })));

            Assert.True(HostActivity.LastActive(options.LastActiveFile) is not null, $"round {round}: the last active moment was deleted");
        }
    }

    [Fact]
    public async Task TheMomentReadBackIsTheLastWritePlusOneInterval()
    {
        var options = new StandaloneOptions { DataDirectory = _dataDirectory };
        var clock = new ManualClock(new DateTimeOffset(2026, 12, 6, 9, 0, 0, TimeSpan.Zero));
        Assert.Null(HostActivity.LastActive(options.LastActiveFile));

        var activity = new HostActivity(options, clock, NullLogger<HostActivity>.Instance);
        await activity.StartAsync(CancellationToken.None);
        clock.Advance(TimeSpan.FromSeconds(30));
        await activity.StopAsync(CancellationToken.None);

        Assert.Equal(new DateTime(2026, 12, 6, 9, 1, 30, DateTimeKind.Utc), HostActivity.LastActive(options.LastActiveFile));
    }

    public void Dispose() => Directory.Delete(_dataDirectory, recursive: true);
}
