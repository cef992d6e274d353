using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;

namespace EmailPlatform.Bench;

/// <summary>What one run measured: answers by status, accepted per second and the latency distribution.</summary>
internal sealed class Result
{
    private readonly long[] _sorted;

    public Result(long[] latencyTicks, Dictionary<string, int> outcomes, TimeSpan elapsed, long generatorLate, TimeSpan generatorCpu)
    {
        _sorted = latencyTicks;
        Array.Sort(_sorted);
        Outcomes = outcomes;
        Elapsed = elapsed;
        GeneratorLate = generatorLate;
        GeneratorCpu = generatorCpu;
    }

    public Dictionary<string, int> Outcomes { get; }

    public TimeSpan Elapsed { get; }

    /// <summary>Open loop only: how often the generator found itself more than 10 ms behind its schedule.</summary>
    public long GeneratorLate { get; }

    /// <summary>
    /// CPU the load generator itself used during the run (user + system): on a machine it shares with the service
    /// under test, every millisecond of it is one the service did not get.
    /// </summary>
    public TimeSpan GeneratorCpu { get; }

    public long Requests => _sorted.Length;

    public int Accepted => Outcomes.GetValueOrDefault("202");

    public double AcceptedPerSecond => Accepted / Elapsed.TotalSeconds;

    public double Percentile(double p) =>
        _sorted.Length == 0 ? double.NaN : Milliseconds(_sorted[Math.Clamp((int)Math.Ceiling(p / 100 * _sorted.Length) - 1, 0, _sorted.Length - 1)]);

    public double Max => _sorted.Length == 0 ? double.NaN : Milliseconds(_sorted[^1]);

    public double Mean => _sorted.Length == 0 ? double.NaN : _sorted.Average(t => Milliseconds(t));

    public JsonObject ToJson(Options options)
    {
        var errors = new JsonObject();
        foreach (var (outcome, count) in Outcomes.Where(o => o.Key != "202").OrderBy(o => o.Key, StringComparer.Ordinal))
        {
            errors[outcome] = count;
        }

        return new JsonObject
        {
            ["label"] = options.Label,
            ["mode"] = options.Mode,
            ["concurrency"] = options.Mode == "saturate" ? options.Concurrency : null,
            ["target_rate"] = options.Mode == "rate" ? options.Rate : null,
            ["duration_s"] = Round(Elapsed.TotalSeconds),
            ["body_bytes"] = options.BodySize,
            ["body_kind"] = options.BodyKind,
            ["idempotency_keys"] = options.IdempotencyKeys,
            ["requests"] = Requests,
            ["accepted"] = Accepted,
            ["errors"] = errors,
            ["requests_per_s"] = Round(Requests / Elapsed.TotalSeconds),
            ["accepted_per_s"] = Round(AcceptedPerSecond),
            ["latency_ms"] = new JsonObject
            {
                ["p50"] = Round(Percentile(50)),
                ["p95"] = Round(Percentile(95)),
                ["p99"] = Round(Percentile(99)),
                ["max"] = Round(Max),
                ["mean"] = Round(Mean),
            },
            ["generator_late"] = options.Mode == "rate" ? GeneratorLate : null,
            ["generator_cpu_ms_per_request"] = Requests == 0 ? null : Round(GeneratorCpu.TotalMilliseconds / Requests, 3),
        };
    }

    public string Summary(Options options)
    {
        var errors = string.Join(", ", Outcomes.Where(o => o.Key != "202").Select(o => $"{o.Key}×{o.Value}"));
        var shape = options.Mode == "rate"
            ? $"rate {options.Rate.ToString(CultureInfo.InvariantCulture)}/s"
            : $"concurrency {options.Concurrency}";
        return string.Create(CultureInfo.InvariantCulture,
            $"{options.Label}: {shape}, {Elapsed.TotalSeconds:0.0}s, {Requests} requests, {Accepted} accepted ({AcceptedPerSecond:0}/s), " +
            $"errors [{(errors.Length == 0 ? "none" : errors)}], latency ms p50 {Percentile(50):0.00} p95 {Percentile(95):0.00} " +
            $"p99 {Percentile(99):0.00} max {Max:0.00}, generator CPU {GeneratorCpu.TotalMilliseconds / Math.Max(1, Requests):0.000} ms per request");
    }

    private static double Milliseconds(long ticks) => ticks * 1000.0 / Stopwatch.Frequency;

    private static double Round(double value, int digits = 2) => double.IsNaN(value) ? 0 : Math.Round(value, digits);
}
