using EmailPlatform.Deployment.Tests.Support;

namespace EmailPlatform.Deployment.Tests;

public sealed class AlertRulesTests
{
    public const string RulesFile = "deploy/prometheus/alerts/emailplatform.yml";
    public const string RuleTestsFile = "deploy/prometheus/tests/emailplatform.test.yml";

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
    public void RulesAreLabelledPlannedExactlyWhenTheyReadPlannedMetrics()
    {
        Assert.All(Rules, rule =>
        {
            var name = Yaml.Str(rule, "alert");
            var planned = Metrics.SelectedBy(Yaml.Str(rule, "expr")!).Where(Metrics.Planned.Contains).ToList();
            var labelled = Yaml.Str(rule, "labels.planned") == "true";
            Assert.True(labelled || planned.Count == 0, $"{name} reads {string.Join(", ", planned)}, which no service exports yet: label it planned: \"true\"");
            Assert.True(!labelled || planned.Count > 0, $"{name} is labelled planned but every series it reads is exported now: drop the label");
        });
    }

    /// <summary>
    /// One Prometheus often watches several installs (staging and production): an aggregation that drops the install's
    /// label judges them together, one install's stall hidden by the other's traffic, and its alert names neither. Every
    /// sum, max and min keeps <c>namespace</c>, or RabbitMQ's <c>vhost</c> for the broker's series.
    /// </summary>
    [Fact]
    public void EveryAggregationKeepsTheInstallsLabel()
    {
        var aggregation = new System.Text.RegularExpressions.Regex(@"\b(sum|max|min|avg|count)\s*(by\s*\((?<by>[^)]*)\))?\s*\((?<arg>[a-z_]+\()?(?<series>[a-z_:]+)");
        Assert.All(Rules, rule =>
        {
            var name = Yaml.Str(rule, "alert");
            var found = aggregation.Matches(Yaml.Str(rule, "expr")!);
            Assert.NotEmpty(found);
            foreach (System.Text.RegularExpressions.Match m in found)
            {
                var label = m.Groups["series"].Value.StartsWith("rabbitmq_", StringComparison.Ordinal) ? "vhost" : "namespace";
                var by = m.Groups["by"].Value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
                Assert.True(by.Contains(label), $"{name}: '{m.Value}' drops the '{label}' label: add it to the by clause");
            }
        });
    }

    [Fact]
    public void CoverRelayDownDeferralSpikeBacklogOutboxLagAndWebhookFailures()
    {
        var names = Rules.Select(r => Yaml.Str(r, "alert")).ToHashSet();
        string[] expected =
        [
            "EmailPlatformRelayDown", "EmailPlatformDeferralSpike", "EmailPlatformSendBacklogGrowing",
            "EmailPlatformRetryBacklogGrowing", "EmailPlatformHighPriorityBacklog", "EmailPlatformOutboxLagHigh",
            "EmailPlatformWebhookFailures",
        ];
        Assert.All(expected, e => Assert.Contains(e, names));
    }

    [Fact]
    public void TheRelayDownAlertReadsTheBreakerAndTheBacklogAlertsTheLaneGauges()
    {
        Assert.Contains("emailplatform_relay_breaker_state", Metrics.SelectedBy(Expr("EmailPlatformRelayDown")));
        Assert.Contains("emailplatform_queue_depth", Metrics.SelectedBy(Expr("EmailPlatformSendBacklogGrowing")));
        Assert.Contains("emailplatform_retry_pending", Metrics.SelectedBy(Expr("EmailPlatformRetryBacklogGrowing")));
        Assert.Contains("emailplatform_lane=\"send-email-high\"", Expr("EmailPlatformHighPriorityBacklog"), StringComparison.Ordinal);
    }

    [Fact]
    public void PromtoolAcceptsTheRulesAndThePrometheusConfiguration()
    {
        Assert.Contains($"SUCCESS: {Rules.Count} rules found", Promtool.Run("check", "rules", RulesFile), StringComparison.Ordinal);
        Assert.Contains("SUCCESS", Promtool.Run("check", "config", "--syntax-only", "deploy/prometheus/prometheus.yml"), StringComparison.Ordinal);
    }

    [Fact]
    public void EveryAlertFiresInThePromtoolUnitTests()
    {
        var output = Promtool.Run("test", "rules", RuleTestsFile);
        Assert.Contains("SUCCESS", output, StringComparison.Ordinal);

        var tests = Yaml.Parse(Repo.Read(RuleTestsFile));
        Assert.Equal(["../alerts/emailplatform.yml"], Yaml.List(Yaml.At(tests, "rule_files")));
        var firing = Yaml.List(Yaml.At(tests, "tests"))
            .SelectMany(t => Yaml.List(Yaml.At(t, "alert_rule_test")))
            .Where(t => Yaml.List(Yaml.At(t, "exp_alerts")).Count > 0)
            .Select(t => Yaml.Str(t, "alertname"))
            .ToHashSet();
        Assert.All(Rules.Select(r => Yaml.Str(r, "alert")), name => Assert.True(firing.Contains(name), $"{RuleTestsFile} has no case where {name} fires"));
    }

    [Fact]
    public void LaneSelectorsNameTheLanesTheServicesUse()
    {
        var lanes = ServiceSources.DeliveryLanes;
        var text = Repo.Read(RulesFile);
        Assert.DoesNotContain("queue=\"send-email\"", text, StringComparison.Ordinal);
        foreach (System.Text.RegularExpressions.Match m in System.Text.RegularExpressions.Regex.Matches(text, "send-email-[a-z]+"))
        {
            Assert.Contains(m.Value, lanes);
        }
    }

    private static string Expr(string alert) => Yaml.Str(Rules.Single(r => Yaml.Str(r, "alert") == alert), "expr")!;

    [Fact]
    public void PrometheusLoadsTheRulesDirectory()
    {
        var config = Yaml.Parse(Repo.Read("deploy/prometheus/prometheus.yml"));
        Assert.Contains("/etc/prometheus/alerts/*.yml", Yaml.List(Yaml.At(config, "rule_files")));
        Assert.Contains("./deploy/prometheus/alerts:/etc/prometheus/alerts:ro",
            Yaml.List(Yaml.At(Compose.ComposeFile.Service("prometheus"), "volumes")));
    }
}
