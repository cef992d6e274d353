using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using EmailPlatform.ServiceDefaults;
using EmailPlatform.ServiceDefaults.Storage;
using EmailPlatform.Status;
using EmailPlatform.Status.Recording;
using EmailPlatform.Status.Storage;
using EmailPlatform.StatusBench;
using MassTransit;
using Npgsql;

// Three modes, driven by bench/status.sh:
//   recorder --postgres CONN --events N [--concurrency C]   the recorder alone: N events through the status service's
//                                                            single writer (as C concurrent consumers would), in-process
//   publish  --rabbitmq URI --events N                      publishes N events to the bus (for the service to drain later)
//   measure  --postgres CONN --expect N [--timeout S]       waits until N events are in the store and reports the rate
// recorder and publish take --body-size B: each email an HTML body of B characters and a text body of B/2 (default: a
// one-line receipt).
var mode = args.FirstOrDefault() ?? throw new ArgumentException("mode: recorder | publish | measure");
var options = Options.Parse(args.Skip(1));
var result = mode switch
{
    "recorder" => await RecorderAsync(options),
    "publish" => await PublishAsync(options),
    "measure" => await MeasureAsync(options),
    _ => throw new ArgumentException($"unknown mode '{mode}'"),
};
var json = JsonSerializer.Serialize(result, new JsonSerializerOptions { WriteIndented = true });
if (options.Get("out") is { } outFile)
{
    await File.WriteAllTextAsync(outFile, json);
}

Console.WriteLine(json);
return 0;

static async Task<Dictionary<string, object>> RecorderAsync(Options options)
{
    var messages = EventMix.Create(options.Int("events", 100_000), bodySize: options.Int("body-size", 0));
    var events = EventMix.EventCount(messages);
    var concurrency = options.Int("concurrency", 1000);
    var builder = WebApplication.CreateBuilder(new WebApplicationOptions { EnvironmentName = "Production" });
    builder.Configuration["ConnectionStrings:Postgres"] = options.Required("postgres");
    builder.Configuration["Auth:BootstrapKey"] = "bench_" + Guid.NewGuid().ToString("N");
    builder.Logging.SetMinimumLevel(LogLevel.Warning);
    builder.AddServiceDefaults();
    builder.AddStatus();
    await using var app = builder.Build();
    await app.Services.MigrateStoreAsync<StatusDbContext>();
    var writer = app.Services.GetRequiredService<StatusEventWriter>();

    // Warm-up on a small set of its own (JIT, connection pool), not counted.
    var warmup = EventMix.Create(2_000, seed: 7);
    await FeedAsync(writer, warmup, concurrency);

    var started = Stopwatch.GetTimestamp();
    var cpuBefore = Environment.CpuUsage.TotalTime;
    var allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
    var pausedBefore = GC.GetTotalPauseDuration();
    await FeedAsync(writer, messages, concurrency);
    var elapsed = Stopwatch.GetElapsedTime(started).TotalSeconds;
    var cpu = (Environment.CpuUsage.TotalTime - cpuBefore).TotalMilliseconds;
    var allocated = GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore;
    var paused = GC.GetTotalPauseDuration() - pausedBefore;
    return new Dictionary<string, object>
    {
        ["mode"] = "recorder",
        ["events"] = events,
        ["messages"] = messages.Count,
        ["concurrency"] = concurrency,
        ["seconds"] = Math.Round(elapsed, 3),
        ["events_per_s"] = Math.Round(events / elapsed),
        // CPU time of this process (writer, recorder, Npgsql; not PostgreSQL's): a figure other load on the machine skews far less.
        ["cpu_ms_per_1000_events"] = Math.Round(cpu * 1000 / events, 1),
        // Managed allocations and GC pauses of the recording alone (the feeding callers' share is small): set against the
        // bus run's, they tell the recorder's part from the consume pipeline's.
        ["allocated_kb_per_event"] = Math.Round(allocated / 1024.0 / events, 1),
        ["gc_pause_s"] = Math.Round(paused.TotalSeconds, 2),
        ["peak_rss_mb"] = PeakRssMb(),
    };
}

// As the consumers do: at most `concurrency` messages waiting for their batch's commit at any time, each handing over
// the events it carries together.
static async Task FeedAsync(StatusEventWriter writer, List<object> messages, int concurrency)
{
    var next = -1;
    var workers = Enumerable.Range(0, concurrency).Select(async _ =>
    {
        int i;
        while ((i = Interlocked.Increment(ref next)) < messages.Count)
        {
            await writer.RecordAsync(EventMix.Events(messages[i]), CancellationToken.None);
        }
    });
    await Task.WhenAll(workers);
}

static async Task<Dictionary<string, object>> PublishAsync(Options options)
{
    var messages = EventMix.Create(options.Int("events", 100_000), bodySize: options.Int("body-size", 0));
    var bus = Bus.Factory.CreateUsingRabbitMq(cfg => cfg.Host(new Uri(options.Required("rabbitmq")), h => h.PublisherConfirmation = true));
    await bus.StartAsync();
    try
    {
        var started = Stopwatch.GetTimestamp();
        var next = -1;
        var publishers = Enumerable.Range(0, 64).Select(async _ =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < messages.Count)
            {
                await bus.Publish(messages[i], messages[i].GetType());
            }
        });
        await Task.WhenAll(publishers);
        var elapsed = Stopwatch.GetElapsedTime(started).TotalSeconds;
        var events = EventMix.EventCount(messages);
        return new Dictionary<string, object>
        {
            ["mode"] = "publish",
            // The events the service is to record from them (the measure run waits for this many).
            ["events"] = events,
            ["messages"] = messages.Count,
            ["seconds"] = Math.Round(elapsed, 3),
            ["published_per_s"] = Math.Round(events / elapsed),
        };
    }
    finally
    {
        await bus.StopAsync();
    }
}

// The rate is read from the store itself: events / (last recorded_at - first recorded_at).
static async Task<Dictionary<string, object>> MeasureAsync(Options options)
{
    var expect = options.Int("expect", 0);
    var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(options.Int("timeout", 600));
    await using var connection = new NpgsqlConnection(options.Required("postgres"));
    await connection.OpenAsync();
    await using var command = new NpgsqlCommand("SELECT count(*), min(recorded_at), max(recorded_at) FROM events", connection);
    while (true)
    {
        await using (var reader = await command.ExecuteReaderAsync())
        {
            await reader.ReadAsync();
            var count = reader.GetInt64(0);
            if (count >= expect || DateTime.UtcNow > deadline)
            {
                var (first, last) = count > 1 ? (reader.GetDateTime(1), reader.GetDateTime(2)) : (default, default);
                var seconds = (last - first).TotalSeconds;
                await reader.DisposeAsync();
                var (halfEvents, halfSeconds) = count > 1 ? await SecondHalfAsync(connection, count, last) : (0, 0);
                return new Dictionary<string, object>
                {
                    ["mode"] = "measure",
                    ["expected"] = expect,
                    ["recorded"] = count,
                    ["complete"] = count >= expect,
                    ["seconds"] = Math.Round(seconds, 3),
                    ["events_per_s"] = seconds > 0 ? Math.Round(count / seconds) : 0,
                    ["second_half_seconds"] = Math.Round(halfSeconds, 3),
                    ["second_half_events_per_s"] = halfSeconds > 0 ? Math.Round(halfEvents / halfSeconds) : 0,
                };
            }
        }

        await Task.Delay(200);
    }
}

// The drain's second half alone: the service starts cold, and its first seconds run code the JIT has not optimised yet.
static async Task<(long Events, double Seconds)> SecondHalfAsync(NpgsqlConnection connection, long count, DateTime last)
{
    await using var middle = new NpgsqlCommand("SELECT recorded_at FROM events ORDER BY recorded_at OFFSET @half LIMIT 1", connection);
    middle.Parameters.AddWithValue("half", count / 2);
    var from = (DateTime)(await middle.ExecuteScalarAsync())!;
    await using var after = new NpgsqlCommand("SELECT count(*) FROM events WHERE recorded_at > @from", connection);
    after.Parameters.AddWithValue("from", from);
    var events = (long)(await after.ExecuteScalarAsync())!;
    return (events, (last - from).TotalSeconds);
}

static double PeakRssMb()
{
    foreach (var line in File.ReadLines("/proc/self/status"))
    {
        if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
        {
            return Math.Round(double.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024, 1);
        }
    }

    return 0;
}

internal sealed class Options(Dictionary<string, string> values)
{
    public static Options Parse(IEnumerable<string> args)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        using var e = args.GetEnumerator();
        while (e.MoveNext())
        {
            var key = e.Current.StartsWith("--", StringComparison.Ordinal) ? e.Current[2..] : throw new ArgumentException($"unexpected '{e.Current}'");
            values[key] = e.MoveNext() ? e.Current : throw new ArgumentException($"--{key} needs a value");
        }

        return new Options(values);
    }

    public string? Get(string key) => values.GetValueOrDefault(key);

    public string Required(string key) => Get(key) ?? throw new ArgumentException($"--{key} is required");

    public int Int(string key, int fallback) => Get(key) is { } v ? int.Parse(v, CultureInfo.InvariantCulture) : fallback;
}
