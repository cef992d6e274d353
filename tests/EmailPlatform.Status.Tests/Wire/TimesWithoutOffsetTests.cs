using System.Text.Json;
using EmailPlatform.ServiceDefaults.Json;
using EmailPlatform.Status.Suppressions;
using EmailPlatform.Status.Webhooks;

namespace EmailPlatform.Status.Tests.Wire;

/// <summary>
/// A time in a request body without an offset is UTC whatever the server's time zone, as in the query parameters.
/// The tests set the process's time zone, so they run in a collection of their own, alone.
/// </summary>
[Collection(nameof(LocalTimeZoneCollection))]
public sealed class TimesWithoutOffsetTests
{
    [Fact]
    public void ATimeWithoutOffsetIsUtcOnAServerInAnotherTimeZone()
    {
        using var zone = LocalTimeZone.Set("America/New_York");

        var replay = JsonSerializer.Deserialize<ReplayRangeRequest>("""{"from": "2026-11-01T00:00:00", "to": "2026-11-02T00:00:00.5"}""", WireJson.Options)!;
        var put = JsonSerializer.Deserialize<PutSuppressionRequest>("""{"reason": "pause", "expires_at": "2026-12-24T18:00:00"}""", WireJson.Options)!;

        Assert.Equal(new DateTimeOffset(2026, 11, 1, 0, 0, 0, TimeSpan.Zero), replay.From);
        Assert.Equal(new DateTimeOffset(2026, 11, 2, 0, 0, 0, 500, TimeSpan.Zero), replay.To);
        Assert.Equal(new DateTimeOffset(2026, 12, 24, 18, 0, 0, TimeSpan.Zero), put.ExpiresAt);
    }

    [Fact]
    public void ATimeWithAnOffsetKeepsItAndABadOneIsRefused()
    {
        using var zone = LocalTimeZone.Set("America/New_York");

        var replay = JsonSerializer.Deserialize<ReplayRangeRequest>("""{"from": "2026-11-01T00:00:00+02:00", "to": "2026-11-02T00:00:00Z"}""", WireJson.Options)!;

        Assert.Equal((TimeSpan.FromHours(2), new DateTime(2026, 10, 31, 22, 0, 0)), (replay.From!.Value.Offset, replay.From.Value.UtcDateTime));
        Assert.Equal(new DateTimeOffset(2026, 11, 2, 0, 0, 0, TimeSpan.Zero), replay.To);
        Assert.Equal(
            """{"when":"2026-11-01T00:00:00+02:00"}""",
            JsonSerializer.Serialize(new { When = new DateTimeOffset(2026, 11, 1, 0, 0, 0, TimeSpan.FromHours(2)) }, WireJson.Options));
        foreach (var bad in new[] { "\"01/11/2026\"", "\"tomorrow\"", "20261101", "\"2026-11-01T25:00:00\"" })
        {
            Assert.Throws<JsonException>(() => JsonSerializer.Deserialize<ReplayRangeRequest>($$"""{"from": {{bad}}}""", WireJson.Options));
        }
    }
}

/// <summary>Its tests run after all others, one at a time: they change the process's local time zone.</summary>
[CollectionDefinition(nameof(LocalTimeZoneCollection), DisableParallelization = true)]
public sealed class LocalTimeZoneCollection;

/// <summary>Sets the process's local time zone until disposed.</summary>
internal sealed class LocalTimeZone : IDisposable
{
    private readonly string? _before = Environment.GetEnvironmentVariable("TZ");

    private LocalTimeZone(string zone)
    {
        Environment.SetEnvironmentVariable("TZ", zone);
        TimeZoneInfo.ClearCachedData();
        Assert.NotEqual(TimeSpan.Zero, TimeZoneInfo.Local.BaseUtcOffset);
    }

    public static LocalTimeZone Set(string zone) => new(zone);

    public void Dispose()
    {
        Environment.SetEnvironmentVariable("TZ", _before);
        TimeZoneInfo.ClearCachedData();
    }
}
