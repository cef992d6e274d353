using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using EmailPlatform.Testing;

namespace EmailPlatform.LoadBench;

/// <summary>
/// The platform's benchmark, driven by <c>bench/run.sh</c> (which builds in Release, starts a Postfix
/// <c>smtp-sink</c> of its own and cleans up). Two modes:
/// <list type="bullet">
/// <item><c>e2e</c>: the three services as processes on a database and RabbitMQ virtual host of their own; a
/// throughput phase (<c>--emails</c> from <c>--concurrency</c> clients, closed loop) and a latency phase
/// (<c>--rate-emails</c> at <c>--rate</c> per second, open loop), each measured from the request to the status
/// service's record of the delivery (202 → relay 250 → status recorded).</item>
/// <item><c>delivery</c>: the lane queues filled with the workers stopped, then the workers started: their
/// throughput alone.</item>
/// </list>
/// Both run the baseline first, in the same run: a bare MailKit loop to the same sink over workers × connections
/// connections.
/// </summary>
public static class Program
{
    public static async Task<int> Main(string[] args)
    {
        BenchOptions options;
        try
        {
            options = BenchOptions.Parse(args);
        }
        catch (Exception ex) when (ex is ArgumentException or FormatException)
        {
            await Console.Error.WriteLineAsync(ex.Message + Environment.NewLine + BenchOptions.Usage);
            return 2;
        }

        var emails = new BenchEmails(options);
        var report = new JsonObject
        {
            ["benchmark"] = options.Mode,
            ["timestamp"] = DateTime.UtcNow.ToString("O", CultureInfo.InvariantCulture),
            ["machine"] = new JsonObject { ["cpus"] = Environment.ProcessorCount, ["loadavg_before"] = LoadAverage() },
            ["options"] = JsonSerializer.SerializeToNode(new
            {
                options.Emails, options.Concurrency, options.Rate, options.RateEmails, options.Workers, options.Connections,
                options.MessageSize, body_bytes = emails.BodyBytes, options.Attachments, options.AttachmentSize, options.Recipients, options.SameRecipients,
                priority_mix = options.PriorityMix, options.Warmup,
            }, new JsonSerializerOptions { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower }),
        };

        var baselineCount = options.BaselineEmails;
        Log($"baseline: bare MailKit loop, {options.BaselineConnections} connection(s), {baselineCount} messages to {options.SinkHost}:{options.SinkPort}");
        await Baseline.RunAsync(emails, options.SinkHost, options.SinkPort, 500, options.BaselineConnections);
        var (baselineSent, baselineElapsed) = await Baseline.RunAsync(emails, options.SinkHost, options.SinkPort, baselineCount, options.BaselineConnections);
        var baselineRate = baselineSent / baselineElapsed.TotalSeconds;
        Log($"baseline: {baselineSent} in {baselineElapsed.TotalSeconds:0.0}s = {baselineRate:0}/s");
        report["baseline_emails_per_s"] = Round(baselineRate);
        report["baseline_connections"] = options.BaselineConnections;

        var pids = new ProcessLedger(options.StateDir);
        await using var stack = await PlatformStack.CreateAsync(new PlatformStackOptions
        {
            RelayHost = options.SinkHost,
            RelayPort = options.SinkPort,
            RelayConnections = options.Connections,
            Environment = new Dictionary<string, string?>
            {
                ["Logging__LogLevel__Default"] = "Warning",
                ["Ingress__RateLimit__PermitsPerSecond"] = "1000000",
            },
            OnProcess = pids.Record,
        });
        pids.RecordStore(stack);

        var complete = options.Mode == "e2e"
            ? await EndToEndAsync(options, emails, stack, report, baselineRate)
            : await DeliveryAsync(options, emails, stack, report, baselineRate);

        report["machine"]!["loadavg_after"] = LoadAverage();
        report["complete"] = complete;
        var path = Path.GetFullPath(options.Out);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        await File.WriteAllTextAsync(path, report.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        Console.WriteLine(Table.Render(report));
        Console.WriteLine("written: " + path);
        return complete ? 0 : 1;
    }

    private static async Task<bool> EndToEndAsync(BenchOptions options, BenchEmails emails, PlatformStack stack, JsonObject report, double baselineRate)
    {
        Log($"starting status, {options.Workers} worker(s), ingress");
        await stack.StartAllAsync(options.Workers);
        var probe = new StoreProbe(stack.ConnectionString);
        using var client = stack.CreateClient();
        var load = new AcceptLoad(client, emails);
        var expectedTerminal = 0L;

        if (options.Warmup > 0)
        {
            Log($"warm-up: {options.Warmup} emails");
            var warm = await load.ClosedLoopAsync("warmup", options.Warmup, options.Concurrency);
            expectedTerminal += warm.Accepted.Count;
            if (!await WaitForStatusAsync(probe, expectedTerminal, warm.Accepted.Count, stack))
            {
                return false;
            }
        }

        var phases = new JsonArray();
        Log($"throughput: {options.Emails} emails, closed loop, {options.Concurrency} clients");
        var cpu = CpuMeter.Start(stack);
        var throughput = await load.ClosedLoopAsync("throughput", options.Emails, options.Concurrency);
        expectedTerminal += throughput.Accepted.Count;
        var complete = await WaitForStatusAsync(probe, expectedTerminal, throughput.Accepted.Count, stack);
        var throughputCpu = cpu.PerEmail(throughput.Accepted.Count);
        var throughputJson = await PhaseJsonAsync(probe, throughput);
        throughputJson["cpu"] = throughputCpu;
        phases.Add(throughputJson);

        JsonObject? rateJson = null;
        if (options.Rate > 0 && options.RateEmails > 0)
        {
            Log($"latency: {options.RateEmails} emails at {options.Rate}/s, open loop");
            cpu = CpuMeter.Start(stack);
            var rate = await load.OpenLoopAsync("rate", options.RateEmails, options.Rate);
            expectedTerminal += rate.Accepted.Count;
            complete &= await WaitForStatusAsync(probe, expectedTerminal, rate.Accepted.Count, stack);
            var rateCpu = cpu.PerEmail(rate.Accepted.Count);
            rateJson = await PhaseJsonAsync(probe, rate);
            rateJson["cpu"] = rateCpu;
            rateJson["target_rate"] = options.Rate;
            rateJson["generator_late"] = rate.GeneratorLate;
            phases.Add(rateJson);
        }

        var e2e = throughputJson["delivered_per_s"]!.GetValue<double>();
        var latency = rateJson ?? throughputJson;
        report["e2e_emails_per_s"] = e2e;
        report["accepted_per_s"] = throughputJson["accepted_per_s"]!.DeepClone();
        report["cpu_ms_per_email"] = throughputCpu["cpu_ms_per_email"]!.DeepClone();
        report["ratio"] = Round(e2e / baselineRate, 3);
        report["accept_latency_phase"] = latency["name"]!.DeepClone();
        foreach (var p in new[] { "p50", "p95", "p99" })
        {
            report[$"accept_{p}_ms"] = latency["accept_ms"]![p]!.DeepClone();
            report[$"delivered_{p}_ms"] = latency["delivered_ms"]![p]!.DeepClone();
        }

        report["rss_mb"] = Rss(stack);
        report["phases"] = phases;
        var rss = report["rss_mb"]!.AsObject();
        var targets = new JsonObject
        {
            ["e2e_emails_per_s >= 3000"] = e2e >= 3000,
            ["ratio >= 0.35"] = e2e / baselineRate >= 0.35,
            ["every service < 250 MB RSS"] = rss.All(s => s.Value!.GetValue<double>() < 250),
        };
        if (rateJson is not null)
        {
            targets[$"accept_p99_ms <= 25 at {options.Rate:0}/s"] = rateJson["accept_ms"]!["p99"]!.GetValue<double>() <= 25;
        }

        report["targets"] = targets;
        return complete;
    }

    private static async Task<bool> DeliveryAsync(BenchOptions options, BenchEmails emails, PlatformStack stack, JsonObject report, double baselineRate)
    {
        // One worker start declares the lane queues and their bindings; they stay (durable) while it is stopped.
        Log("starting status, one worker (to declare the queues), ingress");
        await stack.StartAllAsync(1);
        await stack.StopWorkerAsync(0, TimeSpan.FromSeconds(30));
        var probe = new StoreProbe(stack.ConnectionString);
        using var client = stack.CreateClient();
        var load = new AcceptLoad(client, emails);

        Log($"filling the lane queues: {options.Emails} emails with no worker running");
        var fill = await load.ClosedLoopAsync("fill", options.Emails, options.Concurrency);
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(5);
        while (await probe.OutboxPendingAsync() > 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(250);
        }

        // The broker's queue lengths are statistics it refreshes every few seconds: look until they show the fill.
        var queued = await Broker.QueuedAsync(stack.VirtualHost, "send-email");
        for (var look = 0; look < 60 && queued < fill.Accepted.Count; look++)
        {
            await Task.Delay(1000);
            queued = await Broker.QueuedAsync(stack.VirtualHost, "send-email");
        }

        Log($"accepted {fill.Accepted.Count}; {queued} SendEmail message(s) waiting in the lane queues");
        await stack.StopIngressAsync();

        var expected = (long)fill.Accepted.Count * options.Recipients;
        Log($"starting {options.Workers} worker(s)");
        var started = DateTime.UtcNow;
        await Task.WhenAll(Enumerable.Range(0, options.Workers).Select(stack.StartWorkerAsync));
        var cpu = CpuMeter.Start(stack);
        (long Count, DateTime? First, DateTime? Last) seen;
        deadline = DateTime.UtcNow + TimeSpan.FromSeconds(120 + expected / 50);
        do
        {
            await Task.Delay(250);
            seen = await probe.WorkerDeliveredAsync();
        }
        while (seen.Count < expected && DateTime.UtcNow < deadline);

        var rss = Rss(stack);
        var used = cpu.PerEmail(seen.Count / options.Recipients);
        var steady = seen.Count > 1 && seen.Last > seen.First ? seen.Count / (seen.Last!.Value - seen.First!.Value).TotalSeconds : 0;
        var overall = seen.Last is { } last ? seen.Count / (last - started).TotalSeconds : 0;
        var emailsPerSecond = steady / options.Recipients;
        report["queued_before_start"] = queued;
        report["worker_delivered"] = seen.Count / options.Recipients;
        report["worker_emails_per_s"] = Round(emailsPerSecond);
        report["worker_emails_per_s_including_start"] = Round(overall / options.Recipients);
        report["ratio"] = Round(emailsPerSecond / baselineRate, 3);
        report["rss_mb"] = rss;
        report["cpu"] = used;
        report["cpu_ms_per_email"] = used["cpu_ms_per_email"]!.DeepClone();
        report["targets"] = new JsonObject { ["worker >= 70% of baseline"] = emailsPerSecond / baselineRate >= 0.7 };
        Log($"workers delivered {seen.Count} recipient(s): {emailsPerSecond:0} emails/s from first to last outcome");
        return seen.Count >= expected && queued >= fill.Accepted.Count;
    }

    /// <summary>Waits until the status service holds <paramref name="expected"/> emails in a final state (bounded).</summary>
    private static async Task<bool> WaitForStatusAsync(StoreProbe probe, long expected, int phase, PlatformStack stack)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(120 + phase / 50);
        long terminal;
        while ((terminal = await probe.StatusTerminalAsync()) < expected)
        {
            if (DateTime.UtcNow > deadline)
            {
                Log($"gave up waiting: {terminal} of {expected} emails in a final state; the services said:{Environment.NewLine}{stack.Logs}");
                return false;
            }

            await Task.Delay(250);
        }

        return true;
    }

    private static async Task<JsonObject> PhaseJsonAsync(StoreProbe probe, PhaseResult phase)
    {
        var recorded = await probe.DeliveredRecordedAtAsync(phase.Accepted.Select(a => a.Id).ToList());
        var toDelivered = phase.Accepted.Where(a => recorded.ContainsKey(a.Id))
            .Select(a => (recorded[a.Id] - a.AnsweredAtUtc).TotalMilliseconds).ToArray();
        var lastRecorded = recorded.Count > 0 ? recorded.Values.Max() : phase.StartedAtUtc;
        var deliveredPerSecond = recorded.Count / (lastRecorded - phase.StartedAtUtc).TotalSeconds;
        var accept = phase.Accepted.Select(a => a.LatencyMs).ToArray();
        Log($"{phase.Name}: accepted {phase.Accepted.Count} ({phase.AcceptedPerSecond:0}/s), delivered {recorded.Count} " +
            $"({deliveredPerSecond:0}/s end to end), accept p99 {Percentile(accept, 99):0.0} ms, to delivered p99 {Percentile(toDelivered, 99):0} ms");
        var errors = new JsonObject();
        foreach (var (outcome, count) in phase.Outcomes.Where(o => o.Key != "202").OrderBy(o => o.Key, StringComparer.Ordinal))
        {
            errors[outcome] = count;
        }

        return new JsonObject
        {
            ["name"] = phase.Name,
            ["requests"] = phase.Outcomes.Values.Sum(),
            ["accepted"] = phase.Accepted.Count,
            ["errors"] = errors,
            ["accept_duration_s"] = Round(phase.Elapsed.TotalSeconds),
            ["accepted_per_s"] = Round(phase.AcceptedPerSecond),
            ["delivered"] = recorded.Count,
            ["delivered_duration_s"] = Round((lastRecorded - phase.StartedAtUtc).TotalSeconds),
            ["delivered_per_s"] = Round(deliveredPerSecond),
            ["accept_ms"] = Distribution(accept),
            ["delivered_ms"] = Distribution(toDelivered),
        };
    }

    private static JsonObject Rss(PlatformStack stack)
    {
        var rss = new JsonObject();
        void Add(string name, ServiceProcess? service)
        {
            if (service is not null && PlatformStack.PeakRssMegabytes(service) is { } mb)
            {
                rss[name] = Round(mb, 1);
            }
        }

        Add("ingress", stack.Ingress);
        Add("status", stack.Status);
        for (var i = 0; i < stack.Workers.Count; i++)
        {
            Add($"delivery-{i}", stack.Workers[i]);
        }

        return rss;
    }

    private static JsonObject Distribution(double[] values) => new()
    {
        ["p50"] = Round(Percentile(values, 50)),
        ["p95"] = Round(Percentile(values, 95)),
        ["p99"] = Round(Percentile(values, 99)),
        ["max"] = Round(values.Length == 0 ? double.NaN : values.Max()),
    };

    private static double Percentile(double[] values, double p)
    {
        if (values.Length == 0)
        {
            return double.NaN;
        }

        var sorted = values.Order().ToArray();
        return sorted[Math.Clamp((int)Math.Ceiling(p / 100 * sorted.Length) - 1, 0, sorted.Length - 1)];
    }

    private static double Round(double value, int digits = 2) => double.IsNaN(value) || double.IsInfinity(value) ? 0 : Math.Round(value, digits);

    private static string LoadAverage() => string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));

    private static void Log(string message) => Console.Error.WriteLine("==> " + message);
}

/// <summary>Writes what the run started and created to the state directory, so bench/run.sh can clean up after a crash.</summary>
internal sealed class ProcessLedger(string? directory)
{
    private readonly Lock _lock = new();

    public void Record(string project, int pid, bool started)
    {
        if (directory is null || !started)
        {
            return;
        }

        lock (_lock)
        {
            File.AppendAllText(Path.Combine(directory, "pids"), pid.ToString(CultureInfo.InvariantCulture) + Environment.NewLine);
        }
    }

    public void RecordStore(PlatformStack stack)
    {
        if (directory is null)
        {
            return;
        }

        var database = new Npgsql.NpgsqlConnectionStringBuilder(stack.ConnectionString).Database;
        File.WriteAllText(Path.Combine(directory, "database"), database);
        File.WriteAllText(Path.Combine(directory, "vhost"), stack.VirtualHost);
    }
}

/// <summary>The broker's own count of messages waiting, through <c>rabbitmqctl</c>.</summary>
internal static class Broker
{
    public static async Task<long> QueuedAsync(string vhost, string queuePrefix)
    {
        var start = new ProcessStartInfo("rabbitmqctl", ["-q", "list_queues", "-p", vhost, "name", "messages"]) { RedirectStandardOutput = true };
        using var process = Process.Start(start)!;
        var output = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        return output.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => line.Split('\t'))
            .Where(f => f.Length == 2 && f[0].StartsWith(queuePrefix, StringComparison.Ordinal) && !f[0].Contains('_') && long.TryParse(f[1], out _))
            .Sum(f => long.Parse(f[1], CultureInfo.InvariantCulture));
    }
}
