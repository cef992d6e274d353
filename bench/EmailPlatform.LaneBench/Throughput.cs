using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Text.Json;
using EmailPlatform.Contracts;
using EmailPlatform.ServiceDefaults.Messaging;
using MailKit.Net.Smtp;
using MailKit.Security;
using MassTransit;
using MimeKit;

namespace EmailPlatform.LaneBench;

/// <summary>
/// The worker against a bare MailKit loop, in the same run and to the same sink: the loop sends
/// <see cref="BenchOptions.Bulk"/> messages over <see cref="BenchOptions.Connections"/> connections (one task per
/// connection, connect once, send back to back); the worker drains the same number of SendEmail commands queued in the
/// normal lane before it started, with <c>Delivery:Relays:0:MaxConnections</c> = the same count. The worker's rate is
/// taken from its first to its last delivery, so its start-up is not counted against it.
/// </summary>
internal static class Throughput
{
    public static async Task<int> RunAsync(BenchOptions options, SmtpSink sink, IBus bus, WorkerProcess worker)
    {
        Console.Error.WriteLine($"==> bare MailKit loop: {options.Bulk:N0} messages over {options.Connections} connections");
        var (bare, bareCpu) = await RunBareProcessAsync(options, sink.Port);
        var afterBare = sink.Messages;

        Console.Error.WriteLine("==> starting the worker once, so that it declares and binds the lanes' queues");
        await worker.StartAsync();
        await worker.StopAsync();
        var total = options.Bulk + options.WarmupMessages;
        Console.Error.WriteLine($"==> queueing {total:N0} emails ({options.WarmupMessages:N0} to warm up) in the normal lane with the worker stopped");
        using (var inFlight = new SemaphoreSlim(options.FillConcurrency))
        {
            var sends = new List<Task>(total);
            for (var i = 0; i < total; i++)
            {
                await inFlight.WaitAsync();
                var email = Emails.Create(EmailPriority.Normal, $"worker-{i}@bench.test", options.BodySize);
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

        Console.Error.WriteLine("==> starting the worker");
        await worker.StartAsync();
        var deadline = Stopwatch.GetTimestamp() + (600 * Stopwatch.Frequency);
        while (sink.Messages - afterBare < options.WarmupMessages && Stopwatch.GetTimestamp() < deadline)
        {
            await Task.Delay(10);
        }

        // Measured after the warm-up (JIT and tiering, connection pools, caches): the steady state of a running worker.
        Console.Error.WriteLine($"==> worker pid {worker.ProcessId} warmed up; measuring {options.Bulk:N0} deliveries");
        var workerCpuBefore = worker.CpuTime;
        var workerJitBefore = worker.JitCpuTime;
        while (sink.Messages - afterBare < total && Stopwatch.GetTimestamp() < deadline)
        {
            await Task.Delay(20);
        }

        var workerCpu = worker.CpuTime - workerCpuBefore;
        var workerJit = worker.JitCpuTime - workerJitBefore;
        var workerTimes = sink.Accepted.Where(a => a.Key.StartsWith("worker-", StringComparison.Ordinal)).Select(a => a.Value).Order()
            .Skip(options.WarmupMessages).ToArray();
        var workerRate = workerTimes.Length > 1
            ? (workerTimes.Length - 1) / ((double)(workerTimes[^1] - workerTimes[0]) / Stopwatch.Frequency)
            : 0;
        var result = new
        {
            benchmark = "delivery-speed",
            timestamp = DateTimeOffset.UtcNow.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture),
            loadavg = File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "",
            messages = options.Bulk,
            connections = options.Connections,
            bare_mailkit_per_s = Math.Round(bare),
            worker_per_s = Math.Round(workerRate),
            worker_delivered = workerTimes.Length,
            ratio = bare > 0 ? Math.Round(workerRate / bare, 3) : 0,
            // CPU per message is what a shared, overloaded machine skews least (the bare loop's includes its start-up).
            bare_cpu_ms_per_message = Math.Round(bareCpu.TotalMilliseconds / options.Bulk, 3),
            worker_cpu_ms_per_message = Math.Round(workerCpu.TotalMilliseconds / options.Bulk, 3),
            // Of that, the background tier-up JIT still at work after the warm-up: a start-up cost, not a per-message one
            // (it varies most from run to run on a loaded machine, as it depends on when that thread gets a core).
            worker_jit_cpu_ms_per_message = Math.Round(workerJit.TotalMilliseconds / options.Bulk, 3),
        };

        var json = JsonSerializer.Serialize(result, new JsonSerializerOptions { WriteIndented = true });
        Console.WriteLine(json);
        if (options.Out is { } outFile)
        {
            await File.WriteAllTextAsync(outFile, json);
        }

        return workerTimes.Length == options.Bulk ? 0 : 1;
    }

    /// <summary>Runs <see cref="BareLoopAsync"/> in a child process; returns its rate and the CPU time it used.</summary>
    private static async Task<(double Rate, TimeSpan Cpu)> RunBareProcessAsync(BenchOptions options, int sinkPort)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var arg in new[]
                 {
                     typeof(Throughput).Assembly.Location, "--mode", "bare", "--sink-port", sinkPort.ToString(CultureInfo.InvariantCulture),
                     "--bulk", options.Bulk.ToString(CultureInfo.InvariantCulture), "--connections", options.Connections.ToString(CultureInfo.InvariantCulture),
                     "--body-size", options.BodySize.ToString(CultureInfo.InvariantCulture),
                 })
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        var output = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"The bare MailKit loop failed ({process.ExitCode}).");
        }

        var parts = output.Trim().Split(' ');
        return (double.Parse(parts[0], CultureInfo.InvariantCulture), TimeSpan.FromMilliseconds(double.Parse(parts[1], CultureInfo.InvariantCulture)));
    }

    public static async Task<double> BareLoopAsync(BenchOptions options, int port)
    {
        var perConnection = options.Bulk / options.Connections;
        var started = Stopwatch.GetTimestamp();
        await Task.WhenAll(Enumerable.Range(0, options.Connections).Select(async c =>
        {
            using var client = new SmtpClient();
            // Nagle off, as the worker has it (RelaySockets): MailKit leaves it on.
            var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            await socket.ConnectAsync("127.0.0.1", port);
            await client.ConnectAsync(socket, "127.0.0.1", port, SecureSocketOptions.None);
            var sender = MailboxAddress.Parse("bounces@lanebench.test");
            for (var i = 0; i < perConnection; i++)
            {
                var to = MailboxAddress.Parse($"bare-{c}-{i}@bench.test");
                var message = new MimeMessage();
                message.From.Add(MailboxAddress.Parse("Bench <bench@lanebench.test>"));
                message.To.Add(to);
                message.Subject = "Our newsletter";
                message.MessageId = $"{Guid.NewGuid():N}@lanebench.test";
                message.Body = new TextPart("plain") { Text = new string('x', options.BodySize) };
                await client.SendAsync(message, sender, [to]);
            }

            await client.DisconnectAsync(quit: true);
        }));

        return perConnection * options.Connections / Stopwatch.GetElapsedTime(started).TotalSeconds;
    }
}
