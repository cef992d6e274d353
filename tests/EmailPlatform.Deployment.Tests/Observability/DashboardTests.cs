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
    public void PanelsUsingPlannedMetricsSaySo()
    {
        foreach (var panel in Panels())
        {
            var planned = panel.GetProperty("targets").EnumerateArray()
                .Any(t => Metrics.SelectedBy(t.GetProperty("expr").GetString()!).Overlaps(Metrics.Planned));
            if (planned)
            {
                Assert.StartsWith("Planned:", panel.GetProperty("description").GetString());
            }
        }

        Assert.Contains("appear once", Dashboard.GetProperty("description").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public void CoversThroughputLatencyDeferralsQueuesRelaysAndOutbox()
    {
        var used = Queries().SelectMany(q => Metrics.SelectedBy(q.Expr)).ToHashSet();
        string[] expected =
        [
            "emailplatform_accepted_total", "emailplatform_delivered_total", "emailplatform_deferred_total",
            "emailplatform_bounced_total", "emailplatform_smtp_attempt_duration_seconds_bucket",
            "emailplatform_smtp_attempt_duration_seconds_count", "emailplatform_outbox_lag_seconds_bucket",
            "rabbitmq_queue_messages_ready",
        ];
        Assert.All(expected, e => Assert.Contains(e, used));
    }

    [Fact]
    public void EveryOwnSeriesAppearsOnTheDashboard()
    {
        var used = Queries().SelectMany(q => Metrics.SelectedBy(q.Expr)).ToHashSet();
        var families = Metrics.Own.Select(s => HistogramSuffix().Replace(s, "")).ToHashSet();
        Assert.All(families, family => Assert.Contains(used, u => u == family || HistogramSuffix().Replace(u, "") == family));
    }

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
    public void PanelIdsAreUniqueAndPanelsFitTheGrid()
    {
        var all = Dashboard.GetProperty("panels").EnumerateArray().ToList();
        Assert.Equal(all.Count, all.Select(p => p.GetProperty("id").GetInt32()).Distinct().Count());
        Assert.All(all, p =>
        {
            var grid = p.GetProperty("gridPos");
            Assert.InRange(grid.GetProperty("x").GetInt32() + grid.GetProperty("w").GetInt32(), 1, 24);
        });
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

    [GeneratedRegex(@"^label_values\((?<metric>[a-zA-Z_:][a-zA-Z0-9_:]*)\s*,\s*\w+\)$")]
    private static partial Regex LabelValues();
}
