using System.Text.Json;
using System.Text.RegularExpressions;
using EmailPlatform.Deployment.Tests.Support;

namespace EmailPlatform.Deployment.Tests;

public sealed partial class DashboardTests
{
    public const string DashboardFile = "deploy/grafana/dashboards/email-platform.json";

    private static readonly JsonElement Dashboard = JsonDocument.Parse(Repo.Read(DashboardFile)).RootElement;

    private static IEnumerable<JsonElement> Panels() =>
        Dashboard.GetProperty("panels").EnumerateArray().Where(p => p.GetProperty("type").GetString() != "row");

    private static IEnumerable<(string Panel, string Expr)> Queries() =>
        Panels().SelectMany(p => p.GetProperty("targets").EnumerateArray()
            .Select(t => (p.GetProperty("title").GetString()!, t.GetProperty("expr").GetString()!)));

    [Fact]
    public void EveryPanelQueriesOnlySeriesThatSomethingExports()
    {
        Assert.All(Queries(), q =>
        {
            var series = Metrics.SelectedBy(q.Expr);
            Assert.NotEmpty(series);
            Assert.All(series, s => Assert.True(Metrics.IsKnown(s), $"panel '{q.Panel}' queries {s}, which nothing exports"));
        });
    }

    [Fact]
    public void EveryPanelQueryIsValidPromQl()
    {
        // promtool parses rule files, so each query (Grafana's variables filled in) becomes a recording rule.
        var rules = new System.Text.StringBuilder("groups:\n  - name: dashboard\n    rules:\n");
        foreach (var (query, i) in Queries().Select((q, i) => (q, i)))
        {
            var expr = query.Expr.Replace("$__rate_interval", "1m", StringComparison.Ordinal)
                .Replace("$__range", "1h", StringComparison.Ordinal)
                .Replace("$relay", ".*", StringComparison.Ordinal)
                .Replace("$namespace", ".*", StringComparison.Ordinal)
                .Replace("$vhost", ".*", StringComparison.Ordinal);
            Assert.DoesNotContain("$", expr, StringComparison.Ordinal);
            rules.Append($"      - record: dashboard_query_{i}\n        expr: {System.Text.Json.JsonSerializer.Serialize(expr)}\n");
        }

        var file = Path.Combine(Path.GetTempPath(), $"emailplatform-dashboard-{Guid.NewGuid():N}.yml");
        File.WriteAllText(file, rules.ToString());
        try
        {
            Assert.Contains($"SUCCESS: {Queries().Count()} rules found", Promtool.Run("check", "rules", file), StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public void PanelsSayPlannedExactlyWhenTheyReadPlannedMetrics()
    {
        foreach (var panel in Panels())
        {
            var title = panel.GetProperty("title").GetString();
            var planned = panel.GetProperty("targets").EnumerateArray()
                .SelectMany(t => Metrics.SelectedBy(t.GetProperty("expr").GetString()!))
                .Where(Metrics.Planned.Contains)
                .ToList();
            var saysPlanned = panel.GetProperty("description").GetString()!.StartsWith("Planned:", StringComparison.Ordinal);
            Assert.True(saysPlanned || planned.Count == 0,
                $"panel '{title}' reads {string.Join(", ", planned)}, which no service exports yet: start its description with 'Planned:'");
            Assert.True(!saysPlanned || planned.Count > 0,
                $"panel '{title}' says 'Planned:' but every series it reads is exported now: drop the 'Planned: …' sentence");
        }

        var anyPlanned = Panels().Any(p => p.GetProperty("description").GetString()!.StartsWith("Planned:", StringComparison.Ordinal));
        Assert.Equal(anyPlanned, Dashboard.GetProperty("description").GetString()!.Contains("'Planned:'", StringComparison.Ordinal));
    }

    [Fact]
    public void CoversThroughputLatencyDeferralsQueuesRelaysWebhooksAndOutbox()
    {
        var used = Queries().SelectMany(q => Metrics.SelectedBy(q.Expr)).ToHashSet();
        string[] expected =
        [
            "emailplatform_accepted_total", "emailplatform_delivered_total", "emailplatform_deferred_total",
            "emailplatform_bounced_total", "emailplatform_failed_total", "emailplatform_suppressed_total",
            "emailplatform_smtp_attempt_duration_seconds_bucket", "emailplatform_smtp_attempt_duration_seconds_count",
            "emailplatform_time_to_delivered_seconds_bucket", "emailplatform_outbox_lag_seconds_bucket",
            "emailplatform_queue_depth", "rabbitmq_queue_messages_ready", "emailplatform_retry_pending",
            "emailplatform_relay_connections_in_use", "emailplatform_relay_breaker_state",
            "emailplatform_webhook_deliveries_total", "emailplatform_webhook_failures_total",
            "emailplatform_webhook_delivery_duration_seconds_bucket", "emailplatform_webhook_pending",
            "emailplatform_status_events_recorded_total",
        ];
        Assert.All(expected, e => Assert.Contains(e, used));
    }

    [Fact]
    public void DeferralsAndBouncesAreBrokenDownByEnhancedClassAndLatencyByPriority()
    {
        var exprs = Queries().Select(q => q.Expr).ToList();
        Assert.Contains(exprs, e => e.Contains("by (emailplatform_enhanced_class)", StringComparison.Ordinal) && e.Contains("emailplatform_deferred_total", StringComparison.Ordinal));
        Assert.Contains(exprs, e => e.Contains("by (emailplatform_enhanced_class)", StringComparison.Ordinal) && e.Contains("emailplatform_bounced_total", StringComparison.Ordinal));
        Assert.Contains(exprs, e => e.Contains("by (le, emailplatform_priority)", StringComparison.Ordinal) && e.Contains("emailplatform_time_to_delivered_seconds_bucket", StringComparison.Ordinal));
        Assert.Contains(exprs, e => e.Contains("by (emailplatform_lane)", StringComparison.Ordinal) && e.Contains("emailplatform_queue_depth", StringComparison.Ordinal));
    }

    [Fact]
    public void EveryOwnAndPlannedSeriesAppearsOnTheDashboard()
    {
        var used = Queries().SelectMany(q => Metrics.SelectedBy(q.Expr)).ToHashSet();
        var families = Metrics.Own.Concat(Metrics.Planned).Select(s => HistogramSuffix().Replace(s, "")).ToHashSet();
        Assert.All(families, family => Assert.True(used.Any(u => u == family || HistogramSuffix().Replace(u, "") == family),
            $"{family} is on no panel of {DashboardFile}"));
    }

    /// <summary>
    /// One Grafana often shows several installs (staging and production): every series a panel reads is narrowed to the
    /// selected install, the services' by <c>$namespace</c> and RabbitMQ's by <c>$vhost</c>, both variables of the
    /// dashboard (All by default, which also matches the compose stack's series, which have no namespace).
    /// </summary>
    [Fact]
    public void EveryPanelSeriesIsNarrowedToTheSelectedInstall()
    {
        var variables = Dashboard.GetProperty("templating").GetProperty("list").EnumerateArray()
            .ToDictionary(v => v.GetProperty("name").GetString()!);
        foreach (var name in new[] { "namespace", "vhost" })
        {
            Assert.True(variables.TryGetValue(name, out var variable), $"no ${name} variable");
            Assert.EndsWith($", {name})", variable.GetProperty("definition").GetString(), StringComparison.Ordinal);
            Assert.True(variable.GetProperty("includeAll").GetBoolean());
            Assert.Equal(".*", variable.GetProperty("allValue").GetString());
        }

        // The relays offered are the selected install's.
        Assert.Contains("{namespace=~\"$namespace\"}", variables["relay"].GetProperty("definition").GetString(), StringComparison.Ordinal);

        Assert.All(Queries(), q =>
        {
            foreach (Match selector in SeriesSelector().Matches(q.Expr))
            {
                var series = selector.Groups["series"].Value;
                if (!Metrics.IsKnown(series))
                {
                    continue; // a label name or function, not a series
                }

                var matcher = series.StartsWith("rabbitmq_", StringComparison.Ordinal) ? "vhost=~\"$vhost\"" : "namespace=~\"$namespace\"";
                Assert.True(selector.Groups["matchers"].Value.Contains(matcher, StringComparison.Ordinal),
                    $"panel '{q.Panel}' reads {series} without {matcher}");
            }
        });
    }

    [GeneratedRegex(@"(?<![a-z_])(?<series>[a-z_:]+)(\{(?<matchers>[^}]*)\})?(?=[\[)\s]|$)")]
    private static partial Regex SeriesSelector();

    [Fact]
    public void PanelsReadTheSelectedPrometheusDataSource()
    {
        var datasource = Dashboard.GetProperty("templating").GetProperty("list").EnumerateArray()
            .Single(v => v.GetProperty("type").GetString() == "datasource");
        Assert.Equal("prometheus", datasource.GetProperty("query").GetString());
        var name = datasource.GetProperty("name").GetString();
        Assert.All(Panels(), p => Assert.Equal($"${{{name}}}", p.GetProperty("datasource").GetProperty("uid").GetString()));
    }

    [Fact]
    public void VariablesQueryOnlyKnownSeries()
    {
        var queries = Dashboard.GetProperty("templating").GetProperty("list").EnumerateArray()
            .Where(v => v.GetProperty("type").GetString() == "query")
            .Select(v => v.GetProperty("definition").GetString()!)
            .ToList();
        Assert.NotEmpty(queries);
        Assert.All(queries, q =>
        {
            var match = LabelValues().Match(q);
            Assert.True(match.Success, q);
            Assert.True(Metrics.IsKnown(match.Groups["metric"].Value), q);
        });
    }

    [Fact]
    public void PanelIdsAreUniqueAndPanelsFitTheGridWithoutOverlapping()
    {
        var all = Dashboard.GetProperty("panels").EnumerateArray().ToList();
        Assert.Equal(all.Count, all.Select(p => p.GetProperty("id").GetInt32()).Distinct().Count());
        var boxes = all.Select(p =>
        {
            var grid = p.GetProperty("gridPos");
            return (Title: p.GetProperty("title").GetString(), X: grid.GetProperty("x").GetInt32(), Y: grid.GetProperty("y").GetInt32(),
                W: grid.GetProperty("w").GetInt32(), H: grid.GetProperty("h").GetInt32());
        }).ToList();
        Assert.All(boxes, b => Assert.InRange(b.X + b.W, 1, 24));
        foreach (var (a, i) in boxes.Select((b, i) => (b, i)))
        {
            foreach (var b in boxes.Skip(i + 1))
            {
                var overlap = a.X < b.X + b.W && b.X < a.X + a.W && a.Y < b.Y + b.H && b.Y < a.Y + a.H;
                Assert.False(overlap, $"panels '{a.Title}' and '{b.Title}' overlap");
            }
        }

        Assert.All(Panels(), p => Assert.Equal(p.GetProperty("targets").GetArrayLength(),
            p.GetProperty("targets").EnumerateArray().Select(t => t.GetProperty("refId").GetString()).Distinct().Count()));
        Assert.Equal("emailplatform-overview", Dashboard.GetProperty("uid").GetString());
    }

    [Fact]
    public void GrafanaIsProvisionedWithTheDashboardAndBothDataSources()
    {
        var datasources = Yaml.List(Yaml.At(Yaml.Parse(Repo.Read("deploy/grafana/provisioning/datasources/datasources.yml")), "datasources"));
        Assert.Contains(datasources, d => Yaml.Str(d, "type") == "prometheus" && Yaml.Str(d, "url") == "http://prometheus:9090");
        Assert.Contains(datasources, d => Yaml.Str(d, "type") == "jaeger");

        var provider = Yaml.List(Yaml.At(Yaml.Parse(Repo.Read("deploy/grafana/provisioning/dashboards/dashboards.yml")), "providers")).Single();
        var path = Yaml.Str(provider, "options.path");
        var grafana = Compose.ComposeFile.Service("grafana");
        Assert.Contains(Yaml.List(Yaml.At(grafana, "volumes")).OfType<string>(),
            v => v.StartsWith($"./{Path.GetDirectoryName(DashboardFile)}:{path}", StringComparison.Ordinal));
    }

    [GeneratedRegex("_(bucket|sum|count)$")]
    private static partial Regex HistogramSuffix();

    [GeneratedRegex(@"^label_values\((?<metric>[a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s*,\s*\w+\)$")]
    private static partial Regex LabelValues();
}
