using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace EmailPlatform.Bench;

/// <summary>
/// Load generator for the accept path (<c>POST /v1/emails</c>).
/// <list type="bullet">
/// <item><c>--mode saturate --concurrency N</c>: closed loop, N workers each sending the next request as soon as
/// the previous one is answered; measures the throughput at saturation.</item>
/// <item><c>--mode rate --rate R</c>: open loop, requests scheduled at fixed intervals whatever the answers do;
/// latency is measured from the scheduled send time, so a stall is not hidden (no coordinated omission).</item>
/// </list>
/// <c>--warmup D</c> first runs the same load for D and discards it: the generator's own start (its code compiled, its
/// connections opened) would otherwise fall in the measured window, where at a fixed rate a stall of a few
/// milliseconds is enough to move the p99.
/// </summary>
public static class Program
{
    private const string Usage = """
        usage: EmailPlatform.Bench --url http://127.0.0.1:5101 --key KEY
                                   [--mode saturate|rate] [--concurrency 64] [--rate 1000] [--duration 20s]
                                   [--warmup 0s] [--body-size 2048] [--body-kind text|html] [--idempotency-keys]
                                   [--max-connections N]
                                   [--label NAME] [--out result.json]
               EmailPlatform.Bench --declare-lanes amqp://guest:guest@127.0.0.1:5672/vhost
        """;

    public static async Task<int> Main(string[] args)
    {
        if (args is ["--declare-lanes", var broker])
        {
            await EmailPlatform.Testing.LaneQueues.DeclareAsync(new Uri(broker));
            return 0;
        }

        Options options;
        try
        {
            options = Options.Parse(args);
        }
        catch (ArgumentException ex)
        {
            await Console.Error.WriteLineAsync(ex.Message + Environment.NewLine + Usage);
            return 2;
        }

        using var client = CreateClient(options);
        var body = EmailBody(options.BodySize, options.BodyKind);
        if (options.Warmup > TimeSpan.Zero)
        {
            var warmup = new Load(client, options with { Duration = options.Warmup }, body);
            _ = options.Mode == "rate" ? await warmup.RunOpenLoopAsync() : await warmup.RunClosedLoopAsync();
        }

        var load = new Load(client, options, body);
        var result = options.Mode == "rate" ? await load.RunOpenLoopAsync() : await load.RunClosedLoopAsync();

        var json = result.ToJson(options);
        Console.WriteLine(result.Summary(options));
        if (options.Out is not null)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(options.Out))!);
            await File.WriteAllTextAsync(options.Out, json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        }

        return result.Requests > 0 ? 0 : 1;
    }

    private static HttpClient CreateClient(Options options)
    {
        var handler = new SocketsHttpHandler
        {
            MaxConnectionsPerServer = options.MaxConnections,
            PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5),
            UseProxy = false,
            UseCookies = false,
            AllowAutoRedirect = false,
            AutomaticDecompression = DecompressionMethods.None,
        };
        var client = new HttpClient(handler) { BaseAddress = options.Url, Timeout = TimeSpan.FromSeconds(10) };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", options.Key);
        client.DefaultRequestHeaders.UserAgent.ParseAdd("EmailPlatform.Bench/1.0");
        return client;
    }

    /// <summary>
    /// A one-recipient email whose JSON is about <paramref name="size"/> bytes. <c>text</c>: a plain-text part fills it.
    /// <c>html</c>: an order confirmation's table markup (tags, quoted attributes, entities) fills two thirds and its
    /// plain-text part the rest, as a real transactional email carries both.
    /// </summary>
    public static byte[] EmailBody(int size, string kind)
    {
        var email = new JsonObject
        {
            ["from"] = "Bench <bench@acme.test>",
            ["to"] = new JsonArray("reader@example.test"),
            ["subject"] = "Accept-path benchmark",
            ["text"] = "",
            ["tags"] = new JsonArray(new JsonObject { ["name"] = "bench", ["value"] = "accept" }),
        };
        var fill = Math.Max(0, size - Encoding.UTF8.GetByteCount(email.ToJsonString(AsNodeWritesIt)));
        if (kind == "html")
        {
            const string Row = "<tr><td style=\"padding:8px 12px;font-family:Arial,sans-serif\">Walnut desk organiser &amp; tray</td>"
                + "<td align=\"right\" style=\"padding:8px 12px\">2 &times; &pound;14.50</td></tr>\n";
            var htmlSize = fill * 2 / 3;
            email["html"] = "<table role=\"presentation\" width=\"100%\">\n" + Filler(Row, htmlSize) + "</table>";
            fill = Math.Max(0, size - Encoding.UTF8.GetByteCount(email.ToJsonString(AsNodeWritesIt)));
        }

        email["text"] = Filler("The quick brown fox jumps over the lazy dog. ", fill);
        return Encoding.UTF8.GetBytes(email.ToJsonString(AsNodeWritesIt));
    }

    /// <summary>JSON as Node's <c>JSON.stringify</c> (Resend's SDK) writes it: markup and non-ASCII characters as they are.</summary>
    private static readonly JsonSerializerOptions AsNodeWritesIt = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private static string Filler(string unit, int length)
    {
        var text = new StringBuilder(length + unit.Length);
        while (text.Length < length)
        {
            text.Append(unit);
        }

        return text.ToString(0, length);
    }
}

internal sealed record Options(
    Uri Url, string Key, string Mode, int Concurrency, double Rate, TimeSpan Duration, TimeSpan Warmup, int BodySize,
    string BodyKind, bool IdempotencyKeys, int MaxConnections, string Label, string? Out)
{
    public static Options Parse(string[] args)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        var flags = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < args.Length; i++)
        {
            var name = args[i];
            if (!name.StartsWith("--", StringComparison.Ordinal))
            {
                throw new ArgumentException($"unexpected argument '{name}'");
            }

            if (name is "--idempotency-keys")
            {
                flags.Add(name);
            }
            else if (i + 1 < args.Length)
            {
                values[name] = args[++i];
            }
            else
            {
                throw new ArgumentException($"{name} needs a value");
            }
        }

        string Get(string name, string fallback) => values.GetValueOrDefault(name, fallback);
        var url = values.TryGetValue("--url", out var u) ? new Uri(u) : throw new ArgumentException("--url is required");
        var key = values.TryGetValue("--key", out var k) ? k : Environment.GetEnvironmentVariable("EMAILPLATFORM_API_KEY")
            ?? throw new ArgumentException("--key (or EMAILPLATFORM_API_KEY) is required");
        var mode = Get("--mode", "saturate");
        if (mode is not ("saturate" or "rate"))
        {
            throw new ArgumentException("--mode is saturate or rate");
        }

        var concurrency = int.Parse(Get("--concurrency", "64"), CultureInfo.InvariantCulture);
        var rate = double.Parse(Get("--rate", "1000"), CultureInfo.InvariantCulture);
        var duration = ParseDuration(Get("--duration", "20s"));
        var warmup = ParseDuration(Get("--warmup", "0s"));
        var maxConnections = int.Parse(Get("--max-connections", mode == "rate" ? "256" : concurrency.ToString(CultureInfo.InvariantCulture)),
            CultureInfo.InvariantCulture);
        if (concurrency < 1 || rate <= 0 || duration <= TimeSpan.Zero || maxConnections < 1)
        {
            throw new ArgumentException("--concurrency, --rate, --duration and --max-connections must be positive");
        }

        if (warmup < TimeSpan.Zero)
        {
            throw new ArgumentException("--warmup must not be negative");
        }

        var bodyKind = Get("--body-kind", "text");
        if (bodyKind is not ("text" or "html"))
        {
            throw new ArgumentException("--body-kind is text or html");
        }

        return new Options(url, key, mode, concurrency, rate, duration, warmup,
            int.Parse(Get("--body-size", "2048"), CultureInfo.InvariantCulture), bodyKind,
            flags.Contains("--idempotency-keys"), maxConnections, Get("--label", mode), values.GetValueOrDefault("--out"));
    }

    private static TimeSpan ParseDuration(string value) =>
        value.EndsWith("ms", StringComparison.Ordinal) ? TimeSpan.FromMilliseconds(double.Parse(value[..^2], CultureInfo.InvariantCulture))
        : value.EndsWith('s') ? TimeSpan.FromSeconds(double.Parse(value[..^1], CultureInfo.InvariantCulture))
        : value.EndsWith('m') ? TimeSpan.FromMinutes(double.Parse(value[..^1], CultureInfo.InvariantCulture))
        : TimeSpan.FromSeconds(double.Parse(value, CultureInfo.InvariantCulture));
}
