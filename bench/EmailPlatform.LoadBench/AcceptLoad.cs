using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text.Json;

namespace EmailPlatform.LoadBench;

/// <summary>One 202: the email's id, when the answer arrived (wall clock, to compare with the status store's times) and how long it took.</summary>
internal readonly record struct Accepted(Guid Id, DateTime AnsweredAtUtc, double LatencyMs);

/// <summary>What one load phase did: the accepted emails, every answer by status, and its duration.</summary>
internal sealed record PhaseResult(string Name, DateTime StartedAtUtc, TimeSpan Elapsed, IReadOnlyList<Accepted> Accepted,
    IReadOnlyDictionary<string, int> Outcomes, double[] LatenciesMs, long GeneratorLate)
{
    public double AcceptedPerSecond => Accepted.Count / Elapsed.TotalSeconds;
}

/// <summary>Sends <c>POST /v1/emails</c> in a closed loop (N clients, as fast as answers come) or an open loop (fixed rate).</summary>
internal sealed class AcceptLoad(HttpClient client, BenchEmails emails)
{
    private static readonly Uri Emails = new("/v1/emails", UriKind.Relative);

    private long _next;

    /// <summary><paramref name="count"/> emails from <paramref name="concurrency"/> clients, each sending when its previous one is answered.</summary>
    public async Task<PhaseResult> ClosedLoopAsync(string name, int count, int concurrency)
    {
        var accepted = new ConcurrentBag<Accepted>();
        var outcomes = new ConcurrentDictionary<string, int>(StringComparer.Ordinal);
        var latencies = new double[count];
        var issued = -1L;
        var startedAt = DateTime.UtcNow;
        var start = Stopwatch.GetTimestamp();
        var clients = Enumerable.Range(0, concurrency).Select(_ => Task.Run(async () =>
        {
            long slot;
            while ((slot = Interlocked.Increment(ref issued)) < count)
            {
                var sent = Stopwatch.GetTimestamp();
                await SendAsync(sent, accepted, outcomes, latencies, slot);
            }
        }));
        await Task.WhenAll(clients);
        return new PhaseResult(name, startedAt, Stopwatch.GetElapsedTime(start), accepted.ToList(), outcomes, latencies, 0);
    }

    /// <summary>
    /// <paramref name="count"/> requests due at fixed intervals, sent whether or not earlier ones were answered; each
    /// latency counts from the time it was due, so a stall is not hidden (no coordinated omission).
    /// </summary>
    public async Task<PhaseResult> OpenLoopAsync(string name, int count, double rate)
    {
        var accepted = new ConcurrentBag<Accepted>();
        var outcomes = new ConcurrentDictionary<string, int>(StringComparer.Ordinal);
        var latencies = new double[count];
        var interval = Stopwatch.Frequency / rate;
        var tasks = new List<Task>(count);
        var startedAt = DateTime.UtcNow;
        var start = Stopwatch.GetTimestamp();
        var late = 0L;
        var next = 0;
        while (next < count)
        {
            var due = (int)Math.Min(count, (long)((Stopwatch.GetTimestamp() - start) / interval) + 1);
            if (due - next > Math.Max(10, rate / 100))
            {
                late++; // the generator fell more than 10 ms behind: reported; latencies still count from the due time
            }

            for (; next < due; next++)
            {
                tasks.Add(SendAsync(start + (long)(next * interval), accepted, outcomes, latencies, next));
            }

            var wait = start + (long)(next * interval) - Stopwatch.GetTimestamp();
            if (wait > Stopwatch.Frequency / 500)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(Math.Max(1, wait * 1000.0 / Stopwatch.Frequency - 1)));
            }
            else if (wait > 0)
            {
                Thread.Yield();
            }
        }

        var sendPhase = Stopwatch.GetElapsedTime(start);
        await Task.WhenAll(tasks);
        return new PhaseResult(name, startedAt, sendPhase, accepted.ToList(), outcomes, latencies, late);
    }

    private async Task SendAsync(long due, ConcurrentBag<Accepted> accepted, ConcurrentDictionary<string, int> outcomes, double[] latencies, long slot)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, Emails)
        {
            Content = new ByteArrayContent(emails.Body(Interlocked.Increment(ref _next))),
        };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        string outcome;
        try
        {
            using var response = await client.SendAsync(request);
            var body = await response.Content.ReadAsByteArrayAsync();
            var latency = Stopwatch.GetElapsedTime(due).TotalMilliseconds;
            latencies[slot] = latency;
            outcome = ((int)response.StatusCode).ToString(CultureInfo.InvariantCulture);
            if (outcome == "202")
            {
                using var json = JsonDocument.Parse(body);
                accepted.Add(new Accepted(json.RootElement.GetProperty("id").GetGuid(), DateTime.UtcNow, latency));
            }
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or IOException)
        {
            latencies[slot] = Stopwatch.GetElapsedTime(due).TotalMilliseconds;
            outcome = ex.GetType().Name;
        }

        outcomes.AddOrUpdate(outcome, 1, (_, n) => n + 1);
    }
}
