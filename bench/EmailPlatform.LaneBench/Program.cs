// bench/lanes.sh drives this: the latency of high-priority email to the relay while a bulk backlog is queued
// (issue 4 §7: 50,000 bulk queued, high p99 ≤ 1 s). See bench/lanes.sh for the settings.
// With --mode throughput (bench/delivery-speed.sh): the worker draining a pre-filled queue against a bare MailKit
// loop with the same connection count, both to the same sink (issue 4: worker ≥ 70% of the bare loop).
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using EmailPlatform.Contracts;
using EmailPlatform.LaneBench;
using EmailPlatform.ServiceDefaults.Messaging;
using MassTransit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using RabbitMQ.Client;

var options = BenchOptions.Parse(args);
if (options.Mode == "bare")
{
    // The bare MailKit loop, in a process of its own like the worker, so both cross a process boundary to the sink.
    var rate = await Throughput.BareLoopAsync(options, options.SinkPort);
    Console.WriteLine(FormattableString.Invariant($"{rate} {Process.GetCurrentProcess().TotalProcessorTime.TotalMilliseconds}"));
    return 0;
}

await using var sink = new SmtpSink();
Console.Error.WriteLine($"==> SMTP sink on 127.0.0.1:{sink.Port}");

// The bus the ingress uses (same setup, same DeliveryLanes.SendAsync): mandatory, confirmed sends.
var builder = Host.CreateApplicationBuilder();
builder.Logging.SetMinimumLevel(LogLevel.Warning);
builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["ConnectionStrings:RabbitMq"] = options.Broker.ToString() });
builder.AddMessageBus(_ => { });
using var sender = builder.Build();
await sender.StartAsync();
var bus = sender.Services.GetRequiredService<IBus>();

var worker = new WorkerProcess(options, sink.Port);
if (options.Mode == "throughput")
{
    try
    {
        return await Throughput.RunAsync(options, sink, bus, worker);
    }
    finally
    {
        await worker.DisposeAsync();
        await sender.StopAsync();
    }
}

try
{
    Console.Error.WriteLine("==> starting the worker once, so that it declares and binds the lanes' queues");
    await worker.StartAsync();
    await worker.StopAsync();

    Console.Error.WriteLine($"==> queueing {options.Bulk:N0} bulk emails with the worker stopped");
    var fill = Stopwatch.StartNew();
    using (var inFlight = new SemaphoreSlim(options.FillConcurrency))
    {
        var sends = new List<Task>(options.Bulk);
        for (var i = 0; i < options.Bulk; i++)
        {
            await inFlight.WaitAsync();
            var email = Email(EmailPriority.Bulk, $"bulk-{i}@bench.test", options.BodySize);
            sends.Add(Task.Run(async () =>
            {
                try
                {
                    await DeliveryLanes.SendAsync(bus, email, CancellationToken.None);
                }
                finally
                {
                    inFlight.Release();
                }
            }));
        }

        await Task.WhenAll(sends);
    }

    fill.Stop();
    var queuedBefore = await BulkDepthAsync(options.Broker);
    Console.Error.WriteLine($"==> {queuedBefore:N0} bulk queued in {fill.Elapsed.TotalSeconds:F1} s; starting the worker");

    var started = Stopwatch.GetTimestamp();
    await worker.StartAsync();
    while (sink.Messages < options.WarmupMessages)
    {
        if (Stopwatch.GetElapsedTime(started) > TimeSpan.FromMinutes(3))
        {
            throw new TimeoutException($"The worker delivered only {sink.Messages} bulk emails in 3 minutes.");
        }

        await Task.Delay(50);
    }

    var bulkAtStart = sink.Messages;
    var phase = Stopwatch.GetTimestamp();
    Console.Error.WriteLine($"==> bulk flowing ({bulkAtStart} delivered); sending {options.High} high-priority emails at {options.HighRate}/s");
    var sentAt = new Dictionary<string, long>();
    var interval = TimeSpan.FromSeconds(1.0 / options.HighRate);
    for (var i = 0; i < options.High; i++)
    {
        var due = phase + (long)(interval.TotalSeconds * i * Stopwatch.Frequency);
        var wait = TimeSpan.FromSeconds((double)(due - Stopwatch.GetTimestamp()) / Stopwatch.Frequency);
        if (wait > TimeSpan.Zero)
        {
            await Task.Delay(wait);
        }

        var recipient = $"high-{i}@bench.test";
        sentAt[recipient] = Stopwatch.GetTimestamp();
        await DeliveryLanes.SendAsync(bus, Email(EmailPriority.High, recipient, options.BodySize), CancellationToken.None);
    }

    var deadline = Stopwatch.GetTimestamp() + (120 * Stopwatch.Frequency);
    while (sentAt.Keys.Any(r => !sink.Accepted.ContainsKey(r)) && Stopwatch.GetTimestamp() < deadline)
    {
        await Task.Delay(20);
    }

    var phaseSeconds = Stopwatch.GetElapsedTime(phase).TotalSeconds;
    var bulkDuring = sink.Messages - bulkAtStart - sentAt.Count;
    var queuedAfter = await BulkDepthAsync(options.Broker);
    var missing = sentAt.Keys.Count(r => !sink.Accepted.ContainsKey(r));
    var latencies = sentAt
        .Where(s => sink.Accepted.ContainsKey(s.Key))
        .Select(s => (sink.Accepted[s.Key] - s.Value) * 1000.0 / Stopwatch.Frequency)
        .Order()
        .ToArray();

    var result = new
    {
        benchmark = "lanes",
        timestamp = DateTimeOffset.UtcNow.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture),
        loadavg = File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "",
        bulk_queued = queuedBefore,
        bulk_queued_after_high = queuedAfter,
        bulk_fill_per_s = Math.Round(options.Bulk / fill.Elapsed.TotalSeconds),
        bulk_delivered_per_s_during_high = Math.Round(bulkDuring / phaseSeconds),
        high_sent = sentAt.Count,
        high_missing = missing,
        high_p50_ms = Percentile(latencies, 0.50),
        high_p90_ms = Percentile(latencies, 0.90),
        high_p99_ms = Percentile(latencies, 0.99),
        high_max_ms = latencies.Length > 0 ? Math.Round(latencies[^1], 1) : double.NaN,
        valid = missing == 0 && queuedAfter > 0,
    };

    var json = JsonSerializer.Serialize(result, new JsonSerializerOptions { WriteIndented = true });
    Console.WriteLine(json);
    if (options.Out is { } outFile)
    {
        await File.WriteAllTextAsync(outFile, json);
    }

    if (!result.valid)
    {
        Console.Error.WriteLine(queuedAfter <= 0
            ? "==> INVALID: the bulk backlog drained before the high-priority phase ended; queue more (BULK=…)."
            : $"==> INVALID: {missing} high-priority emails did not arrive within 120 s.");
        return 1;
    }

    return 0;
}
finally
{
    await worker.DisposeAsync();
    await sender.StopAsync();
}

static SendEmail Email(EmailPriority priority, string to, int bodySize) => Emails.Create(priority, to, bodySize);

static double Percentile(double[] sorted, double p) =>
    sorted.Length == 0 ? double.NaN : Math.Round(sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Length) - 1, 0, sorted.Length - 1)], 1);

static async Task<long> BulkDepthAsync(Uri broker)
{
    await using var connection = await new ConnectionFactory { Uri = broker }.CreateConnectionAsync();
    await using var channel = await connection.CreateChannelAsync();
    return (await channel.QueueDeclarePassiveAsync(DeliveryLanes.Bulk)).MessageCount;
}
