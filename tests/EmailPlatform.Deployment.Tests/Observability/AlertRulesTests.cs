using EmailPlatform.Deployment.Tests.Support;

namespace EmailPlatform.Deployment.Tests;

public sealed class AlertRulesTests
{
    public const string RulesFile = "deploy/prometheus/alerts/emailplatform.yml";

    private static readonly List<object> Rules = Yaml.List(Yaml.At(Yaml.Parse(Repo.Read(RulesFile)), "groups"))
        .SelectMany(g => Yaml.List(Yaml.At(g, "rules")))
        .ToList();

    [Fact]
    public void EveryRuleIsAnAlertWithSeverityDurationAndSummary()
    {
        Assert.NotEmpty(Rules);
        Assert.All(Rules, rule =>
        {
            var name = Yaml.Str(rule, "alert");
            Assert.False(string.IsNullOrEmpty(name));
            Assert.Matches("^[0-9]+[smh]$", Yaml.Str(rule, "for"));
            Assert.Contains(Yaml.Str(rule, "labels.severity"), new[] { "warning", "critical" });
            Assert.False(string.IsNullOrWhiteSpace(Yaml.Str(rule, "annotations.summary")), $"{name} has no summary");
        });
        Assert.Equal(Rules.Count, Rules.Select(r => Yaml.Str(r, "alert")).Distinct().Count());
    }

    [Fact]
    public void EveryRuleQueriesOnlySeriesThatSomethingExports()
    {
        Assert.All(Rules, rule =>
        {
            var series = Metrics.SelectedBy(Yaml.Str(rule, "expr")!);
            Assert.NotEmpty(series);
            Assert.All(series, s => Assert.True(Metrics.IsKnown(s), $"{Yaml.Str(rule, "alert")} queries {s}, which nothing exports"));
        });
    }

    [Fact]
    public void RulesOnPlannedMetricsAreLabelledPlanned()
    {
        Assert.All(Rules.Where(r => Metrics.SelectedBy(Yaml.Str(r, "expr")!).Overlaps(Metrics.Planned)),
            rule => Assert.Equal("true", Yaml.Str(rule, "labels.planned")));
    }

    [Fact]
    public void CoverRelayDownDeferralSpikeBacklogOutboxLagAndWebhookFailures()
    {
        var names = Rules.Select(r => Yaml.Str(r, "alert")).ToHashSet();
        string[] expected =
        [
            "EmailPlatformRelayDown", "EmailPlatformDeferralSpike", "EmailPlatformSendBacklogGrowing",
            "EmailPlatformOutboxLagHigh", "EmailPlatformWebhookFailures",
        ];
        Assert.All(expected, e => Assert.Contains(e, names));
    }

    [Fact]
    public void PrometheusLoadsTheRulesDirectory()
    {
        var config = Yaml.Parse(Repo.Read("deploy/prometheus/prometheus.yml"));
        Assert.Contains("/etc/prometheus/alerts/*.yml", Yaml.List(Yaml.At(config, "rule_files")));
        Assert.Contains("./deploy/prometheus/alerts:/etc/prometheus/alerts:ro",
            Yaml.List(Yaml.At(Compose.ComposeFile.Service("prometheus"), "volumes")));
    }
}
