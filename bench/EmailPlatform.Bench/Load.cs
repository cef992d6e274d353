using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Http.Headers;

namespace EmailPlatform.Bench;

/// <summary>Sends the requests and records one latency (in stopwatch ticks) per answer.</summary>
internal sealed class Load(HttpClient client, Options options, byte[] body)
{
    private static readonly Uri Emails = new("/v1/emails", UriKind.Relative);

    private readonly ConcurrentDictionary<string, int> _outcomes = new(StringComparer.Ordinal);

    /// <summary>N workers, each sending its next request when the previous one is answered.</summary>
    public async Task<Result> RunClosedLoopAsync()
    {
        var cpu = ProcessCpu();
        var start = Stopwatch.GetTimestamp();
        var end = start + (long)(options.Duration.TotalSeconds * Stopwatch.Frequency);
        var workers = new Task<List<long>>[options.Concurrency];
        for (var w = 0; w < workers.Length; w++)
        {
            workers[w] = Task.Run(async () =>
            {
                var latencies = new List<long>(capacity: 4096);
                while (Stopwatch.GetTimestamp() < end)
                {
                    var sent = Stopwatch.GetTimestamp();
                    await SendAsync();
                    latencies.Add(Stopwatch.GetTimestamp() - sent);
                }

                return latencies;
            });
        }

        var all = await Task.WhenAll(workers);
        var elapsed = Stopwatch.GetElapsedTime(start);
        return new Result(all.SelectMany(l => l).ToArray(), new Dictionary<string, int>(_outcomes), elapsed, 0, CpuSince(cpu));
    }

    /// <summary>
    /// Requests due at fixed intervals from the start, sent whether or not earlier ones were answered. The latency of
    /// each is measured from the time it was due, so time spent waiting for a connection or behind a slow answer counts.
    /// </summary>
    public async Task<Result> RunOpenLoopAsync()
    {
        var total = (long)Math.Round(options.Rate * options.Duration.TotalSeconds);
        var latencies = new long[total];
        var interval = Stopwatch.Frequency / options.Rate;
        var tasks = new List<Task>(capacity: (int)Math.Min(total, 1_000_000));
        var cpu = ProcessCpu();
        var start = Stopwatch.GetTimestamp();
        var late = 0L;
        long next = 0;
        while (next < total)
        {
            var now = Stopwatch.GetTimestamp();
            var due = Math.Min(total, (long)((now - start) / interval) + 1);
            if (due - next > Math.Max(10, options.Rate / 100))
            {
                late++; // the generator itself fell behind by more than 10 ms: reported, still measured from the due time
            }

            for (; next < due; next++)
            {
                var index = next;
                var scheduled = start + (long)(index * interval);
                tasks.Add(SendScheduledAsync(latencies, index, scheduled));
            }

            // Sleep until the next request is due, never spin: on a machine shared with the service under test a spinning
            // generator takes a core from it (half a core at 1,000/s with Thread.Yield). The timer wakes up to about a
            // millisecond late; the requests then due go out together and that lateness counts in their latency.
            var wait = start + (long)(next * interval) - Stopwatch.GetTimestamp();
            if (wait > 0)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(Math.Max(1, Stopwatch.GetElapsedTime(0, wait).TotalMilliseconds)));
            }
        }

        var sendPhase = Stopwatch.GetElapsedTime(start);
        await Task.WhenAll(tasks).WaitAsync(TimeSpan.FromSeconds(60));
        return new Result(latencies, new Dictionary<string, int>(_outcomes), sendPhase, late, CpuSince(cpu));
    }

    private static TimeSpan CpuSince(TimeSpan before) => ProcessCpu() - before;

    private static TimeSpan ProcessCpu()
    {
        using var process = Process.GetCurrentProcess();
        return process.TotalProcessorTime;
    }

    private async Task SendScheduledAsync(long[] latencies, long index, long scheduled)
    {
        await SendAsync();
        latencies[index] = Stopwatch.GetTimestamp() - scheduled;
    }

    private async Task SendAsync()
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, Emails) { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        if (options.IdempotencyKeys)
        {
            request.Headers.TryAddWithoutValidation("Idempotency-Key", Guid.NewGuid().ToString("N"));
        }

        string outcome;
        try
        {
            using var response = await client.SendAsync(request, HttpCompletionOption.ResponseContentRead);
            outcome = ((int)response.StatusCode).ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or IOException)
        {
            outcome = ex.GetType().Name;
        }

        _outcomes.AddOrUpdate(outcome, 1, (_, n) => n + 1);
    }
}
