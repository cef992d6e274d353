using System.Globalization;

namespace EmailPlatform.LoadBench;

/// <summary>The command line of the benchmark (see <see cref="Program"/> for what each does).</summary>
internal sealed record BenchOptions
{
    public const string Usage = """
        usage: EmailPlatform.LoadBench --sink HOST:PORT [--mode e2e|delivery] [--emails 5000] [--concurrency 32]
                                       [--rate 1000] [--rate-emails 10000] [--workers 1] [--connections 4] [--baseline-emails N]
                                       [--message-size 2048] [--attachments 0] [--attachment-size 10240]
                                       [--recipients 1] [--same-recipients] [--priority-mix normal=1] [--warmup 300]
                                       [--state-dir DIR] [--out artifacts/bench/latest.json (delivery.json)]
        """;

    public string Mode { get; init; } = "e2e";

    public required string SinkHost { get; init; }

    public required int SinkPort { get; init; }

    /// <summary>Emails of the throughput phase (closed loop) and of the delivery mode's pre-filled queue.</summary>
    public int Emails { get; init; } = 5000;

    /// <summary>Concurrent HTTP clients of the closed loop.</summary>
    public int Concurrency { get; init; } = 32;

    /// <summary>The fixed-rate phase's requests per second (open loop); 0 skips it.</summary>
    public double Rate { get; init; } = 1000;

    public int RateEmails { get; init; } = 10_000;

    public int Workers { get; init; } = 1;

    /// <summary>Messages of the baseline loop; at least 10,000 unless given, since the sink is fast and a short run is mostly noise.</summary>
    public int BaselineEmails { get; init; }

    /// <summary>SMTP connections per worker; the baseline opens workers × connections.</summary>
    public int Connections { get; init; } = 4;

    /// <summary>Size of the request's JSON (the text part fills it up), like bench/accept.sh's bodies.</summary>
    public int MessageSize { get; init; } = 2048;

    public int Attachments { get; init; }

    public int AttachmentSize { get; init; } = 10 * 1024;

    public int Recipients { get; init; } = 1;

    /// <summary>Every email to the same addresses (<c>--same-recipients</c>) instead of addresses of its own.</summary>
    public bool SameRecipients { get; init; }

    /// <summary>Weights of <c>high</c>, <c>normal</c> and <c>bulk</c> among the emails sent.</summary>
    public IReadOnlyDictionary<string, double> PriorityMix { get; init; } = new Dictionary<string, double> { ["normal"] = 1 };

    /// <summary>Emails sent and delivered before measuring, so the services' code is compiled and pools are open.</summary>
    public int Warmup { get; init; } = 300;

    /// <summary>Where the pids of started processes are written, for bench/run.sh's cleanup should this process die.</summary>
    public string? StateDir { get; init; }

    public string Out { get; init; } = "artifacts/bench/latest.json";

    public int BaselineConnections => Workers * Connections;

    public static BenchOptions Parse(string[] args)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        var sameRecipients = false;
        for (var i = 0; i < args.Length; i++)
        {
            if (args[i] == "--same-recipients")
            {
                sameRecipients = true;
                continue;
            }

            if (!args[i].StartsWith("--", StringComparison.Ordinal) || i + 1 >= args.Length)
            {
                throw new ArgumentException($"unexpected or incomplete argument '{args[i]}'");
            }

            values[args[i]] = args[++i];
        }

        int Int(string name, int fallback) => values.TryGetValue(name, out var v) ? int.Parse(v, CultureInfo.InvariantCulture) : fallback;
        var sink = values.TryGetValue("--sink", out var s) ? s : throw new ArgumentException("--sink HOST:PORT is required");
        var colon = sink.LastIndexOf(':');
        var options = new BenchOptions
        {
            Mode = values.GetValueOrDefault("--mode", "e2e"),
            SinkHost = sink[..colon],
            SinkPort = int.Parse(sink[(colon + 1)..], CultureInfo.InvariantCulture),
            Emails = Int("--emails", 5000),
            Concurrency = Int("--concurrency", 32),
            Rate = values.TryGetValue("--rate", out var r) ? double.Parse(r, CultureInfo.InvariantCulture) : 1000,
            RateEmails = Int("--rate-emails", 10_000),
            Workers = Int("--workers", 1),
            BaselineEmails = Int("--baseline-emails", Math.Max(Int("--emails", 5000), 10_000)),
            Connections = Int("--connections", 4),
            MessageSize = Int("--message-size", 2048),
            Attachments = Int("--attachments", 0),
            AttachmentSize = Int("--attachment-size", 10 * 1024),
            Recipients = Int("--recipients", 1),
            SameRecipients = sameRecipients,
            PriorityMix = ParseMix(values.GetValueOrDefault("--priority-mix", "normal=1")),
            Warmup = Int("--warmup", 300),
            StateDir = values.GetValueOrDefault("--state-dir"),
            Out = values.GetValueOrDefault("--out", values.GetValueOrDefault("--mode") == "delivery" ? "artifacts/bench/delivery.json" : "artifacts/bench/latest.json"),
        };
        if (options.Mode is not ("e2e" or "delivery"))
        {
            throw new ArgumentException("--mode is e2e or delivery");
        }

        if (options.Emails < 1 || options.BaselineEmails < 1 || options.Concurrency < 1 || options.Workers < 1 || options.Connections < 1
            || options.Recipients is < 1 or > 100 || options.Rate < 0 || options.Warmup < 0 || options.MessageSize < 256)
        {
            throw new ArgumentException("--emails, --concurrency, --workers, --connections must be positive, --recipients 1–100, --message-size ≥ 256");
        }

        return options;
    }

    private static Dictionary<string, double> ParseMix(string value)
    {
        var mix = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var part in value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var pair = part.Split('=');
            if (pair.Length != 2 || pair[0] is not ("high" or "normal" or "bulk"))
            {
                throw new ArgumentException("--priority-mix is like high=1,normal=8,bulk=1");
            }

            mix[pair[0]] = double.Parse(pair[1], CultureInfo.InvariantCulture);
        }

        return mix.Values.Sum() > 0 ? mix : throw new ArgumentException("--priority-mix needs a positive weight");
    }
}
