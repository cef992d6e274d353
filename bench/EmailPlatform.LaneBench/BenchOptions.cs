using System.Globalization;

namespace EmailPlatform.LaneBench;

/// <summary>Command line of the lane benchmark (bench/lanes.sh passes every one).</summary>
internal sealed record BenchOptions(
    string WorkerDll,
    Uri Broker,
    string Postgres,
    int Bulk,
    int High,
    double HighRate,
    int BodySize,
    int FillConcurrency,
    int WarmupMessages,
    string Mode,
    int Connections,
    int SinkPort,
    string? Out)
{
    public static BenchOptions Parse(string[] args)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i + 1 < args.Length; i += 2)
        {
            values[args[i].TrimStart('-')] = args[i + 1];
        }

        if (values.GetValueOrDefault("mode") == "bare")
        {
            values.TryAdd("worker-dll", "");
            values.TryAdd("broker", "amqp://unused/");
            values.TryAdd("postgres", "");
        }

        string Required(string name) => values.TryGetValue(name, out var value)
            ? value
            : throw new ArgumentException($"--{name} is required (see bench/lanes.sh).");
        int Int(string name, int fallback) => values.TryGetValue(name, out var v) ? int.Parse(v, CultureInfo.InvariantCulture) : fallback;

        return new BenchOptions(
            Required("worker-dll"),
            new Uri(Required("broker")),
            Required("postgres"),
            Int("bulk", 50_000),
            Int("high", 200),
            values.TryGetValue("high-rate", out var rate) ? double.Parse(rate, CultureInfo.InvariantCulture) : 10,
            Int("body-size", 2048),
            Int("fill-concurrency", 64),
            Int("warmup", 200),
            values.GetValueOrDefault("mode") ?? "lanes",
            Int("connections", 4),
            Int("sink-port", 0),
            values.GetValueOrDefault("out"));
    }
}
