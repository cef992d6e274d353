using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;

namespace EmailPlatform.Resilience.Tests.Support;

/// <summary>
/// Sends emails at a steady rate in the background while a scenario breaks things, and keeps the id of every email
/// that was answered 202. A request that failed (503 while the store is down, a refused connection) was not accepted
/// and is only counted: the promise under test is about accepted emails.
/// </summary>
internal sealed class Sender
{
    private readonly ConcurrentQueue<Guid> _accepted = new();
    private readonly ConcurrentDictionary<string, int> _refused = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<DateTime> _refusedAt = new();

    private Sender(HttpClient client, int count, double rate)
    {
        Completion = Task.Run(() => RunAsync(client, count, rate));
    }

    public Task Completion { get; }

    public IReadOnlyCollection<Guid> Accepted => _accepted;

    /// <summary>Answers other than 202, by status code or exception type.</summary>
    public IReadOnlyDictionary<string, int> Refused => _refused;

    /// <summary>When each answer other than 202 came (UTC).</summary>
    public IReadOnlyCollection<DateTime> RefusedAt => _refusedAt;

    public static Sender Start(HttpClient client, int count, double rate) => new(client, count, rate);

    private async Task RunAsync(HttpClient client, int count, double rate)
    {
        var start = Stopwatch.GetTimestamp();
        var requests = new List<Task>(count);
        for (var i = 0; i < count; i++)
        {
            var due = TimeSpan.FromSeconds(i / rate) - Stopwatch.GetElapsedTime(start);
            if (due > TimeSpan.Zero)
            {
                await Task.Delay(due);
            }

            requests.Add(SendOneAsync(client, i));
        }

        await Task.WhenAll(requests);
    }

    private async Task SendOneAsync(HttpClient client, int index)
    {
        try
        {
            using var response = await client.PostAsJsonAsync("/v1/emails", new
            {
                from = "Faults <faults@acme.test>",
                to = new[] { $"reader{index % 50}@example.test" },
                subject = $"Fault run email {index}",
                text = $"Email {index} of a fault run. " + new string('x', 1500),
            });
            if (response.StatusCode == HttpStatusCode.Accepted)
            {
                var body = await response.Content.ReadFromJsonAsync<JsonObject>();
                _accepted.Enqueue(Guid.Parse(body!["id"]!.GetValue<string>()));
            }
            else
            {
                Refuse(((int)response.StatusCode).ToString(System.Globalization.CultureInfo.InvariantCulture));
            }
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or IOException)
        {
            Refuse(ex.GetType().Name);
        }
    }

    private void Refuse(string why)
    {
        _refused.AddOrUpdate(why, 1, (_, n) => n + 1);
        _refusedAt.Enqueue(DateTime.UtcNow);
    }
}
