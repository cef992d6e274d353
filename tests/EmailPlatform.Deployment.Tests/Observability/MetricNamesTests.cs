using EmailPlatform.Deployment.Tests.Support;

namespace EmailPlatform.Deployment.Tests;

/// <summary>The derivations the other tests rely on, pinned to what the exporter and the sources produce.</summary>
public sealed class MetricNamesTests
{
    [Theory]
    [InlineData("Counter", "emailplatform.accepted", "{email}", "emailplatform_accepted_total")]
    [InlineData("Histogram", "emailplatform.smtp.attempt.duration", "s", "emailplatform_smtp_attempt_duration_seconds_bucket")]
    [InlineData("Histogram", "http.server.request.duration", "s", "http_server_request_duration_seconds_count")]
    [InlineData("UpDownCounter", "dotnet.process.memory.working_set", "By", "dotnet_process_memory_working_set_bytes")]
    [InlineData("Counter", "dotnet.process.cpu.time", "s", "dotnet_process_cpu_time_seconds_total")]
    [InlineData("ObservableGauge", "emailplatform.queue.depth", null, "emailplatform_queue_depth")]
    public void InstrumentsAreNamedAsThePrometheusExporterNamesThem(string kind, string name, string? unit, string series) =>
        Assert.Contains(series, Metrics.PrometheusSeries(kind, name, unit));

    [Fact]
    public void TheSourcesOwnSeriesIncludeTheDeliveryAndOutboxInstruments()
    {
        string[] expected =
        [
            "emailplatform_accepted_total", "emailplatform_outbox_published_total", "emailplatform_outbox_lag_seconds_bucket",
            "emailplatform_delivered_total", "emailplatform_deferred_total", "emailplatform_bounced_total",
            "emailplatform_smtp_attempt_duration_seconds_count",
        ];
        Assert.All(expected, e => Assert.Contains(e, Metrics.Own));
    }

    [Theory]
    [InlineData("sum by (le) (rate(a_bucket{x=~\"y|z\"}[5m]))", "a_bucket")]
    [InlineData("histogram_quantile(0.99, sum by (le, relay) (rate(b_bucket[$__rate_interval]))) > 30", "b_bucket")]
    [InlineData("sum(c_total) / sum(d_total) > 0.2 and deriv(sum(e)[15m:1m]) > 0", "c_total,d_total,e")]
    [InlineData("(sum(increase(f_total[10m])) or vector(0)) == 0", "f_total")]
    public void PromQlSelectorsAreFoundAndFunctionsAndLabelsAreNot(string expr, string expected) =>
        Assert.Equal(expected.Split(',').Order(), Metrics.SelectedBy(expr).Order());

    [Fact]
    public void ConfigurationKeysComeFromTheOptionsClassesAndConnectionStringLookups()
    {
        var all = ServiceSources.KeysByProject.Values.SelectMany(k => k).ToHashSet(StringComparer.OrdinalIgnoreCase);
        string[] expected =
        [
            "Auth:BootstrapKey", "ConnectionStrings:Postgres", "ConnectionStrings:RabbitMq", "Ingress:StatusUrl",
            "Ingress:Outbox:BatchSize", "Delivery:Relays:*:Host", "Delivery:Relays:*:Password", "Delivery:ConnectTimeout",
        ];
        Assert.All(expected, e => Assert.Contains(e, all));
        Assert.Equal("Delivery:Relays:*:Host", ServiceSources.KeyOf("Delivery__Relays__3__Host"));
        Assert.Null(ServiceSources.KeyOf("OTEL_EXPORTER_OTLP_ENDPOINT"));
        Assert.DoesNotContain("EmailPlatform.Ingress", ServiceSources.KeysByProject.Where(p => p.Value.Contains("Delivery:Relays:*:Host")).Select(p => p.Key));
    }
}
