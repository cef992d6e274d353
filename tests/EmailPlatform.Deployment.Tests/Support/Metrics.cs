using System.Text.RegularExpressions;

namespace EmailPlatform.Deployment.Tests.Support;

/// <summary>
/// The Prometheus series a dashboard or alert may query: our own, derived from the instruments the sources
/// create (converted the way the OpenTelemetry Prometheus exporter names them), the ones issue 6 promises and
/// the sources do not create yet (<see cref="PlannedInstruments"/>), plus the external ones the stack exports
/// (RabbitMQ's plugin, ASP.NET Core, the .NET runtime, MassTransit).
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
        // MassTransit: messaging.masstransit.consume.errors, a counter whose unit is "ea" (each), which the exporter
        // appends like any other unit (MetricNamesTests checks it against the instruments MassTransit creates).
        "messaging_masstransit_consume_errors_ea_total",
    };

    /// <summary>
    /// Instruments issue 6 (part 2) promises that no source creates yet. Dashboards and alerts may use their
    /// series only where they say so (a panel description starting with "Planned:", an alert labelled
    /// planned). Once a service creates one, it must leave this list (a test names it), so that the
    /// dashboard and the alerts stop calling it planned.
    /// </summary>
    /// <remarks>Empty now: the services create every instrument issue 6 names.</remarks>
    public static readonly IReadOnlyList<Instrument> PlannedInstruments = [];

    /// <summary>The instruments the shipped sources create, with the file that creates each.</summary>
    public static readonly IReadOnlyList<Instrument> OwnInstruments = FindInstruments();

    /// <summary>The series our instruments produce, e.g. <c>emailplatform_smtp_attempt_duration_seconds_bucket</c>.</summary>
    public static readonly IReadOnlySet<string> Own = OwnInstruments.SelectMany(i => i.Series).ToHashSet();

    public static readonly IReadOnlySet<string> Planned = PlannedInstruments.SelectMany(i => i.Series).ToHashSet();

    public static bool IsKnown(string series) => Own.Contains(series) || External.Contains(series) || Planned.Contains(series);

    /// <summary>One instrument: its kind (<c>Counter</c>, <c>ObservableGauge</c>…), name and unit.</summary>
    public sealed record Instrument(string Kind, string Name, string? Unit, string? File = null)
    {
        public IEnumerable<string> Series => PrometheusSeries(Kind, Name, Unit);

        public override string ToString() => File is null ? $"{Kind} {Name}" : $"{Kind} {Name} ({File})";
    }

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

    /// <summary>
    /// The <c>Create*</c> calls on a <c>Meter</c> in one C# text, with the name and unit taken from string
    /// literals or string constants (<paramref name="constants"/>), positional or named. An instrument whose
    /// name cannot be read fails loudly rather than going unchecked.
    /// </summary>
    public static IEnumerable<Instrument> InstrumentsIn(string text, string file, IReadOnlyDictionary<string, string> constants)
    {
        foreach (Match call in InstrumentCall().Matches(text))
        {
            var kind = call.Groups["kind"].Value;
            var arguments = Arguments(text, call.Index + call.Length);
            var named = arguments.Select(a => NamedArgument().Match(a)).Where(m => m.Success)
                .ToDictionary(m => m.Groups["name"].Value, m => m.Groups["value"].Value.Trim());
            var positional = arguments.Where(a => !NamedArgument().IsMatch(a)).ToList();

            // Create{Counter,Histogram,UpDownCounter,Gauge}(name, unit, …); CreateObservable*(name, callback, unit, …).
            var unitIndex = kind.StartsWith("Observable", StringComparison.Ordinal) ? 2 : 1;
            var name = named.GetValueOrDefault("name") ?? positional.ElementAtOrDefault(0);
            var unit = named.GetValueOrDefault("unit") ?? positional.ElementAtOrDefault(unitIndex);

            var resolvedName = StringValue(name, constants)
                ?? throw new InvalidOperationException($"{file}: cannot read the name of Create{kind}({string.Join(", ", arguments)})");
            yield return new Instrument(kind, resolvedName, StringValue(unit, constants), file);
        }
    }

    private static List<Instrument> FindInstruments()
    {
        var files = Repo.SourceFiles().Select(f => (File: Repo.Relative(f), Text: System.IO.File.ReadAllText(f))).ToList();
        var constants = files
            .SelectMany(f => StringConstant().Matches(f.Text))
            .GroupBy(m => m.Groups["name"].Value)
            .Where(g => g.Select(m => m.Groups["value"].Value).Distinct().Count() == 1)
            .ToDictionary(g => g.Key, g => g.First().Groups["value"].Value);
        return files.SelectMany(f => InstrumentsIn(f.Text, f.File, constants)).ToList();
    }

    /// <summary>The top-level, comma-separated arguments of the call whose '(' ends at <paramref name="start"/>.</summary>
    private static List<string> Arguments(string text, int start)
    {
        var arguments = new List<string>();
        var depth = 0;
        var current = start;
        for (var i = start; i < text.Length; i++)
        {
            var c = text[i];
            if (c == '"')
            {
                i = EndOfString(text, i);
            }
            else if (c is '(' or '[' or '{')
            {
                depth++;
            }
            else if (c is ')' or ']' or '}' && depth > 0)
            {
                depth--;
            }
            else if (c == ')' || (c == ',' && depth == 0))
            {
                arguments.Add(text[current..i].Trim());
                current = i + 1;
                if (c == ')')
                {
                    return arguments;
                }
            }
        }

        throw new InvalidOperationException($"unbalanced call at offset {start}");
    }

    private static int EndOfString(string text, int quote)
    {
        for (var i = quote + 1; i < text.Length; i++)
        {
            if (text[i] == '\\')
            {
                i++;
            }
            else if (text[i] == '"')
            {
                return i;
            }
        }

        return text.Length - 1;
    }

    /// <summary><c>"s"</c> → s; <c>DeliveryTelemetry.Seconds</c> → the constant's value; anything else → null.</summary>
    private static string? StringValue(string? argument, IReadOnlyDictionary<string, string> constants)
    {
        if (argument is null)
        {
            return null;
        }

        if (argument.Length >= 2 && argument[0] == '"' && argument[^1] == '"')
        {
            return argument[1..^1];
        }

        return MemberAccess().IsMatch(argument) ? constants.GetValueOrDefault(argument.Split('.')[^1]) : null;
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

    [GeneratedRegex(@"\bCreate(?<kind>Counter|Histogram|UpDownCounter|Gauge|ObservableCounter|ObservableGauge|ObservableUpDownCounter)\s*(?:<[\w\s,.?]+>)?\s*\(")]
    private static partial Regex InstrumentCall();

    [GeneratedRegex(@"^(?<name>[A-Za-z_]\w*)\s*:(?!:)\s*(?<value>.+)$", RegexOptions.Singleline)]
    private static partial Regex NamedArgument();

    [GeneratedRegex(@"^[A-Za-z_][\w.]*$")]
    private static partial Regex MemberAccess();

    [GeneratedRegex("""const\s+string\s+(?<name>\w+)\s*=\s*"(?<value>[^"]*)"\s*;""")]
    private static partial Regex StringConstant();

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
