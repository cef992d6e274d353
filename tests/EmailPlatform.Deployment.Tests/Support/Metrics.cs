using System.Text.RegularExpressions;

namespace EmailPlatform.Deployment.Tests.Support;

/// <summary>
/// The Prometheus series a dashboard or alert may query: our own, derived from the instruments the sources
/// create (converted the way the OpenTelemetry Prometheus exporter names them), plus the external ones the
/// stack exports (RabbitMQ's plugin, ASP.NET Core, the .NET runtime, MassTransit).
/// </summary>
internal static partial class Metrics
{
    /// <summary>Series of components we do not build; each is named in the component's documentation.</summary>
    public static readonly IReadOnlySet<string> External = new HashSet<string>
    {
        // RabbitMQ rabbitmq_prometheus plugin, /metrics/per-object.
        "rabbitmq_queue_messages_ready",
        "rabbitmq_queue_messages_unacked",
        "rabbitmq_queue_messages",
        "rabbitmq_queue_consumers",
        // ASP.NET Core: http.server.request.duration (s).
        "http_server_request_duration_seconds_bucket",
        // .NET runtime (System.Runtime meter): dotnet.process.cpu.time (s), dotnet.process.memory.working_set (By).
        "dotnet_process_cpu_time_seconds_total",
        "dotnet_process_memory_working_set_bytes",
        // MassTransit: messaging.masstransit.consume.errors.
        "messaging_masstransit_consume_errors_total",
    };

    /// <summary>
    /// Series that issue 6 (part 2) promises and the services do not export yet. Dashboards and alerts may use
    /// them only where they say so (a panel description starting with "Planned", an alert labelled planned).
    /// </summary>
    public static readonly IReadOnlySet<string> Planned = new HashSet<string>
    {
        "emailplatform_webhook_deliveries_total",
        "emailplatform_webhook_failures_total",
    };

    /// <summary>The series our instruments produce, e.g. <c>emailplatform_smtp_attempt_duration_seconds_bucket</c>.</summary>
    public static readonly IReadOnlySet<string> Own = Repo.SourceFiles()
        .SelectMany(f => Instrument().Matches(File.ReadAllText(f)))
        .SelectMany(m => PrometheusSeries(m.Groups["kind"].Value, m.Groups["name"].Value, m.Groups["unit"].Success ? m.Groups["unit"].Value : null))
        .ToHashSet();

    public static bool IsKnown(string series) => Own.Contains(series) || External.Contains(series) || Planned.Contains(series);

    /// <summary>
    /// How the OpenTelemetry Prometheus exporter names an instrument: dots (and anything else outside
    /// [a-zA-Z0-9_:]) become underscores, the unit is appended when the name does not already end with it
    /// (annotations such as <c>{email}</c> are dropped), counters end in <c>_total</c>, histograms expose
    /// <c>_bucket</c>, <c>_sum</c> and <c>_count</c>.
    /// </summary>
    public static IEnumerable<string> PrometheusSeries(string kind, string name, string? unit)
    {
        var baseName = Sanitize(name);
        var suffix = UnitSuffix(unit);
        if (suffix.Length > 0 && !baseName.EndsWith("_" + suffix, StringComparison.Ordinal))
        {
            baseName = $"{baseName}_{suffix}";
        }

        return kind switch
        {
            "Counter" or "ObservableCounter" => [baseName + "_total"],
            "Histogram" => [baseName + "_bucket", baseName + "_sum", baseName + "_count"],
            _ => [baseName],
        };
    }

    /// <summary>Metric names a PromQL expression selects (functions, keywords, labels and ranges removed).</summary>
    public static IReadOnlySet<string> SelectedBy(string promQl)
    {
        var text = StringLiteral().Replace(promQl, "\"\"");
        text = LabelMatchers().Replace(text, " ");
        text = RangeOrSubquery().Replace(text, " ");
        text = Grouping().Replace(text, " ");
        return Identifier().Matches(text)
            .Where(m => !IsFunctionCall(text, m) && !Keywords.Contains(m.Value))
            .Select(m => m.Value)
            .ToHashSet();
    }

    private static readonly HashSet<string> Keywords =
        ["and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring", "group_left", "group_right", "inf", "nan", "Inf", "NaN"];

    private static bool IsFunctionCall(string text, Match identifier)
    {
        var rest = text.AsSpan(identifier.Index + identifier.Length).TrimStart();
        return rest.Length > 0 && rest[0] == '(';
    }

    private static string Sanitize(string name) => Underscores().Replace(NonMetricCharacter().Replace(name, "_"), "_");

    private static string UnitSuffix(string? unit) => unit switch
    {
        null or "" or "1" => "",
        _ when unit.StartsWith('{') && unit.EndsWith('}') => "",
        "s" => "seconds",
        "ms" => "milliseconds",
        "us" => "microseconds",
        "ns" => "nanoseconds",
        "By" => "bytes",
        _ => Sanitize(unit),
    };

    [GeneratedRegex("""Create(?<kind>Counter|Histogram|UpDownCounter|Gauge|ObservableCounter|ObservableGauge|ObservableUpDownCounter)<\w+>\(\s*"(?<name>[^"]+)"(?:\s*,\s*"(?<unit>[^"]*)")?""")]
    private static partial Regex Instrument();

    [GeneratedRegex("[^a-zA-Z0-9_:]")]
    private static partial Regex NonMetricCharacter();

    [GeneratedRegex("_{2,}")]
    private static partial Regex Underscores();

    [GeneratedRegex("""("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)""")]
    private static partial Regex StringLiteral();

    [GeneratedRegex(@"\{[^{}]*\}")]
    private static partial Regex LabelMatchers();

    [GeneratedRegex(@"\[[^\[\]]*\]")]
    private static partial Regex RangeOrSubquery();

    [GeneratedRegex(@"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")]
    private static partial Regex Grouping();

    [GeneratedRegex(@"(?<![\w$.])[a-zA-Z_:][a-zA-Z0-9_:]*")]
    private static partial Regex Identifier();
}
