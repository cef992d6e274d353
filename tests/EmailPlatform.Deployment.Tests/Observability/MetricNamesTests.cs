using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Runtime.CompilerServices;
using EmailPlatform.Deployment.Tests.Support;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;

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

    /// <summary>
    /// The MassTransit series the dashboard and alerts may query are named from the instruments MassTransit really
    /// creates, units included: its counters carry the unit "ea", so consume faults are
    /// <c>messaging_masstransit_consume_errors_ea_total</c>, not <c>…_errors_total</c>.
    /// </summary>
    [Fact]
    public async Task MassTransitSeriesAreOnesItsInstrumentsProduce()
    {
        // MassTransit creates its instruments once per process, on the first bus's meter; another test's host may have
        // done so already (and disposed of that meter with its services), so they are read from what the process ever
        // created (MassTransitInstruments), after a bus of this test's has started.
        var instruments = MassTransitInstruments.Seen;

        await using (var provider = new ServiceCollection()
            .AddMassTransit(bus => bus.UsingInMemory((context, cfg) => cfg.ConfigureEndpoints(context)))
            .BuildServiceProvider())
        {
            var bus = provider.GetRequiredService<IBusControl>();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await bus.StartAsync(timeout.Token);
            await bus.StopAsync(timeout.Token);
        }

        var produced = instruments.Values
            .SelectMany(i => Metrics.PrometheusSeries(i.GetType().Name.Split('`')[0], i.Name, i.Unit))
            .ToHashSet();
        Assert.Contains("messaging.masstransit.consume.errors", instruments.Keys);
        var queried = Metrics.External.Where(s => s.StartsWith("messaging_masstransit_", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(queried);
        Assert.All(queried, series => Assert.True(produced.Contains(series),
            $"{series} is not a series of MassTransit's instruments: {string.Join(", ", produced.Order())}"));
    }

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

    /// <summary>
    /// A histogram in seconds states its buckets: the exporter's defaults (0, 5, 10, 25, 50, … for milliseconds) put
    /// every sub-second value in one bucket, and the dashboard's percentiles and the alerts read nonsense from it (the
    /// outbox lag's did: its p50 showed 2.5 s whatever the lag).
    /// </summary>
    [Fact]
    public void EveryHistogramInSecondsStatesItsBuckets()
    {
        var histograms = Repo.SourceFiles()
            .Where(f => f.Contains($"{Path.DirectorySeparatorChar}services{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            .SelectMany(f => System.Text.RegularExpressions.Regex.Matches(File.ReadAllText(f), @"CreateHistogram<double>\((?<call>[^;]*)\);")
                .Select(m => (File: Repo.Relative(f), Call: m.Groups["call"].Value)))
            .ToList();

        Assert.Contains(histograms, h => h.Call.Contains("emailplatform.outbox.lag", StringComparison.Ordinal));
        Assert.All(histograms.Where(h => h.Call.Contains("\"s\"", StringComparison.Ordinal)), h =>
            Assert.True(h.Call.Contains("HistogramBucketBoundaries", StringComparison.Ordinal), $"{h.File}: {h.Call}"));
    }

    [Fact]
    public void NoPlannedInstrumentIsCreatedByTheSourcesAlready()
    {
        var exported = Metrics.PlannedInstruments
            .SelectMany(planned => Metrics.OwnInstruments.Where(own => own.Name == planned.Name))
            .ToList();
        Assert.True(exported.Count == 0,
            "now created by the sources, so remove from Metrics.PlannedInstruments (and drop 'Planned:' from their panels, " +
            $"planned: \"true\" from their alerts): {string.Join("; ", exported)}");
    }

    [Fact]
    public void PlannedInstrumentsAreNamedAndUnitedLikeTheOwnOnes()
    {
        Assert.All(Metrics.PlannedInstruments, i =>
        {
            Assert.StartsWith("emailplatform.", i.Name, StringComparison.Ordinal);
            Assert.Matches(@"^(s|\{[a-z]+\})$", i.Unit);
        });
        Assert.Equal(Metrics.PlannedInstruments.Count, Metrics.PlannedInstruments.Select(i => i.Name).Distinct().Count());
        Assert.Empty(Metrics.Planned.Intersect(Metrics.External));
    }

    [Fact]
    public void InstrumentsAreReadFromLiteralsConstantsAndNamedArguments()
    {
        const string source = """
            _a = meter.CreateCounter<long>("emailplatform.failed", "{recipient}", "Recipients given up on.");
            _b = meter.CreateHistogram<double>(Names.TimeToDelivered, unit: "s",
                advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [1, 5] });
            meter.CreateObservableGauge("emailplatform.queue.depth", () => Observe(lanes, 3), "{message}", "Ready messages.");
            meter.CreateObservableGauge<int>(name: "emailplatform.relay.breaker.state", observeValues: () => [], unit: "{state}");
            meter.CreateObservableGauge<double>("emailplatform.oldest", () => Oldest(), Units.Seconds);
            """;
        var constants = new Dictionary<string, string> { ["TimeToDelivered"] = "emailplatform.time_to_delivered", ["Seconds"] = "s" };
        var found = Metrics.InstrumentsIn(source, "Example.cs", constants).Select(i => i with { File = null }).ToList();
        Assert.Equal(
        [
            new Metrics.Instrument("Counter", "emailplatform.failed", "{recipient}"),
            new Metrics.Instrument("Histogram", "emailplatform.time_to_delivered", "s"),
            new Metrics.Instrument("ObservableGauge", "emailplatform.queue.depth", "{message}"),
            new Metrics.Instrument("ObservableGauge", "emailplatform.relay.breaker.state", "{state}"),
            new Metrics.Instrument("ObservableGauge", "emailplatform.oldest", "s"),
        ], found);
        Assert.Contains("emailplatform_oldest_seconds", found[4].Series);
        Assert.Throws<InvalidOperationException>(() => Metrics.InstrumentsIn("meter.CreateCounter<long>(NameOf(x));", "Bad.cs", constants).ToList());
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
            "Status:BounceListener:Domains:*",
        ];
        Assert.All(expected, e => Assert.Contains(e, all));
        Assert.Equal("Delivery:Relays:*:Host", ServiceSources.KeyOf("Delivery__Relays__3__Host"));
        Assert.Equal("Status:BounceListener:Domains:*", ServiceSources.KeyOf("Status__BounceListener__Domains__0"));
        Assert.Null(ServiceSources.KeyOf("OTEL_EXPORTER_OTLP_ENDPOINT"));
        Assert.Null(ServiceSources.KeyOf("ASPNETCORE_HTTP_PORTS"));
        Assert.Null(ServiceSources.KeyOf("Logging__LogLevel__Default"));
        // A section no service defines is a key nothing reads, not one skipped; the host strips DOTNET_ and ASPNETCORE_.
        Assert.Equal("Webhook:AllowPrivateTargets", ServiceSources.KeyOf("Webhook__AllowPrivateTargets"));
        Assert.Equal("Shutdown:Timeout", ServiceSources.KeyOf("DOTNET_Shutdown__Timeout"));
        Assert.DoesNotContain("EmailPlatform.Ingress", ServiceSources.KeysByProject.Where(p => p.Value.Contains("Delivery:Relays:*:Host")).Select(p => p.Key));
    }
}

/// <summary>
/// Every instrument of MassTransit's meter that this test process created, recorded from the moment the test assembly
/// is loaded, before any test starts a bus.
/// </summary>
internal static class MassTransitInstruments
{
    public static ConcurrentDictionary<string, Instrument> Seen { get; } = new();

    private static readonly MeterListener Listener = new()
    {
        InstrumentPublished = (instrument, _) =>
        {
            if (instrument.Meter.Name == "MassTransit")
            {
                Seen[instrument.Name] = instrument;
            }
        },
    };

#pragma warning disable CA2255 // A test assembly's own listener, which has to be in place before any test runs.
    [ModuleInitializer]
    internal static void Start() => Listener.Start();
#pragma warning restore CA2255
}
