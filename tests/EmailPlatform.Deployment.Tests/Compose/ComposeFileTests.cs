using EmailPlatform.Deployment.Tests.Support;

namespace EmailPlatform.Deployment.Tests.Compose;

public sealed class ComposeFileTests
{
    private static readonly string[] Conditions = ["service_started", "service_healthy", "service_completed_successfully"];

    [Fact]
    public void EveryBuildContextAndDockerfileExists()
    {
        var builds = ComposeFile.Services.Where(s => Yaml.At(s.Value, "build") is not null).ToList();
        Assert.NotEmpty(builds);
        foreach (var (name, service) in builds)
        {
            var context = Yaml.Str(service, "build.context") ?? throw new Xunit.Sdk.XunitException($"{name}: build without context");
            var dockerfile = Yaml.Str(service, "build.dockerfile") ?? "Dockerfile";
            Assert.True(Directory.Exists(Repo.PathOf(context)), $"{name}: build context '{context}' does not exist");
            Assert.True(File.Exists(Repo.PathOf(Path.Combine(context, dockerfile))), $"{name}: Dockerfile '{dockerfile}' does not exist");
        }
    }

    [Fact]
    public void EveryHostProjectIsBuiltByTheComposeFile()
    {
        var built = ComposeFile.Services.Select(s => ComposeFile.ProjectOf(s.Value)).ToHashSet();
        Assert.All(ServiceSources.Hosts, host => Assert.Contains(host, built));
    }

    [Fact]
    public void EveryImageIsPinnedToATagOtherThanLatest()
    {
        foreach (var (name, service) in ComposeFile.Services)
        {
            var image = Yaml.Str(service, "image");
            Assert.False(image is null && Yaml.At(service, "build") is null, $"{name} has neither image nor build");
            if (image is null)
            {
                continue;
            }

            var resolved = ComposeFile.WithDefaults(image);
            var lastSegment = resolved.Split('/')[^1];
            Assert.True(lastSegment.Contains(':') || resolved.Contains('@'), $"{name}: image '{image}' has no tag");
            var tag = lastSegment.Split('@')[0].Split(':').ElementAtOrDefault(1);
            Assert.False(string.IsNullOrEmpty(tag) || tag == "latest", $"{name}: image '{image}' is not pinned");
        }
    }

    [Fact]
    public void ConfigurationKeysAreOnesTheServicesRead()
    {
        var checkedAny = false;
        foreach (var (name, service) in ComposeFile.Services)
        {
            var project = ComposeFile.ProjectOf(service);
            if (project is null)
            {
                continue;
            }

            var known = ServiceSources.KeysReadBy(project);
            foreach (var variable in ComposeFile.Environment(service).Keys)
            {
                if (ServiceSources.KeyOf(variable) is { } key)
                {
                    checkedAny = true;
                    Assert.True(known.Contains(key),
                        $"{name} sets {variable}, but {project} reads no '{key}'. It reads: {string.Join(", ", known.Order())}");
                }
            }
        }

        Assert.True(checkedAny, "no service sets any configuration key the services define");
    }

    [Fact]
    public void DistributedServicesGetTheSettingsTheyCannotStartWithout()
    {
        string[] everyService = ["Auth__BootstrapKey", "ConnectionStrings__RabbitMq"];
        var required = new Dictionary<string, string[]>
        {
            ["EmailPlatform.Ingress"] = [.. everyService, "ConnectionStrings__Postgres", "Ingress__StatusUrl"],
            ["EmailPlatform.Status"] = [.. everyService, "ConnectionStrings__Postgres"],
            ["EmailPlatform.Delivery"] = [.. everyService, "ConnectionStrings__Postgres", "Delivery__Relays__0__Host", "Delivery__Relays__0__Port"],
        };
        foreach (var (project, keys) in required)
        {
            var services = ComposeFile.Services.Where(s => ComposeFile.ProjectOf(s.Value) == project && !ComposeFile.IsMigration(s.Value)).ToList();
            Assert.NotEmpty(services);
            foreach (var (name, service) in services)
            {
                var environment = ComposeFile.Environment(service);
                Assert.All(keys, key => Assert.True(environment.ContainsKey(key), $"{name} does not set {key}"));
            }
        }
    }

    /// <summary>
    /// Compose kills a service stop_grace_period after SIGTERM: that must come after its host has stopped, which takes
    /// at most its Shutdown:Timeout (the one the service sets, or the services' default).
    /// </summary>
    [Fact]
    public void EveryServiceIsGivenLongerToStopThanItsHostsShutdownTimeout()
    {
        var running = ComposeFile.Services.Where(s => ComposeFile.ProjectOf(s.Value) is not null && !ComposeFile.IsMigration(s.Value)).ToList();
        Assert.NotEmpty(running);
        foreach (var (name, service) in running)
        {
            var grace = Yaml.Str(service, "stop_grace_period");
            Assert.True(grace is not null, $"{name} has no stop_grace_period: compose's default of 10 s is shorter than its shutdown");
            Assert.Matches("^[0-9]+s$", grace);
            var shutdown = ComposeFile.Environment(service).TryGetValue("Shutdown__Timeout", out var configured)
                ? TimeSpan.Parse(configured, System.Globalization.CultureInfo.InvariantCulture)
                : new ServiceDefaults.Shutdown.ShutdownOptions().Timeout;
            Assert.True(TimeSpan.FromSeconds(int.Parse(grace[..^1], System.Globalization.CultureInfo.InvariantCulture)) >= shutdown + TimeSpan.FromSeconds(3),
                $"{name}: stop_grace_period {grace} leaves less than 3 s after Shutdown:Timeout {shutdown}");
        }
    }

    [Fact]
    public void TheApiKeyComesFromTheEnvironmentAndIsRequired()
    {
        foreach (var (name, service) in ComposeFile.Services)
        {
            if (ComposeFile.Environment(service).TryGetValue("Auth__BootstrapKey", out var value))
            {
                Assert.StartsWith("${EMAILPLATFORM_API_KEY:?", value);
            }
        }
    }

    [Fact]
    public void DependenciesExistAndStateTheirCondition()
    {
        var names = ComposeFile.Services.Select(s => s.Key).ToHashSet();
        foreach (var (name, service) in ComposeFile.Services)
        {
            var dependsOn = Yaml.At(service, "depends_on");
            Assert.False(dependsOn is List<object>, $"{name}: depends_on is a list; give each dependency a condition");
            foreach (var (target, spec) in Yaml.Entries(dependsOn))
            {
                Assert.True(names.Contains(target), $"{name} depends on '{target}', which is not a service");
                Assert.Contains(Yaml.Str(spec, "condition"), Conditions);
            }
        }
    }

    [Fact]
    public void EveryServiceWaitedOnAsHealthyHasAHealthcheck()
    {
        var waitedOn = ComposeFile.Services
            .SelectMany(s => Yaml.Entries(Yaml.At(s.Value, "depends_on")))
            .Where(d => Yaml.Str(d.Value, "condition") == "service_healthy")
            .Select(d => d.Key)
            .ToHashSet();
        Assert.Contains("rabbitmq", waitedOn);
        Assert.Contains("postgres", waitedOn);
        Assert.All(waitedOn, name =>
            Assert.True(Yaml.At(ComposeFile.Service(name), "healthcheck.test") is not null, $"{name} is waited on as healthy but has no healthcheck"));
    }

    /// <summary>
    /// On its first start the postgres image runs the init scripts on a server that listens only on the Unix socket;
    /// pg_isready over the socket calls that ready, and the migrations, which connect over TCP and are not restarted,
    /// are refused and exit. The check must go over TCP, as the services do.
    /// </summary>
    [Fact]
    public void PostgresIsHealthyOnlyOnceItAcceptsTcpConnections()
    {
        var test = Yaml.List(Yaml.At(ComposeFile.Service("postgres"), "healthcheck.test")).Select(o => o.ToString()).ToList();
        Assert.Contains("pg_isready", test);
        var host = test.IndexOf("-h");
        Assert.True(host > 0 && host + 1 < test.Count, $"pg_isready without -h checks the Unix socket: {string.Join(' ', test)}");
        Assert.Equal("127.0.0.1", test[host + 1]);
        var port = test.IndexOf("-p");
        Assert.True(port > 0 && port + 1 < test.Count && test[port + 1] == "5432", $"pg_isready does not check port 5432: {string.Join(' ', test)}");
    }

    [Fact]
    public void PlatformServicesCheckTheirHealthWithTheirOwnCommand()
    {
        var platform = ComposeFile.Services
            .Where(s => ComposeFile.ProjectOf(s.Value) is not null && !ComposeFile.IsMigration(s.Value))
            .ToList();
        Assert.Equal(4, platform.Select(s => ComposeFile.ProjectOf(s.Value)).Distinct().Count());
        Assert.All(platform, s => Assert.Equal(
            ["CMD", "dotnet", $"{ComposeFile.ProjectOf(s.Value)}.dll", "healthcheck"],
            Yaml.List(Yaml.At(s.Value, "healthcheck.test")).Select(o => o.ToString())));
    }

    /// <summary>
    /// RabbitMQ drops an event published while no queue is bound for it: whatever publishes on the bus starts only once
    /// the status service's migration has declared its queues (itself waiting for a healthy broker), directly or through
    /// what it waits for.
    /// </summary>
    [Fact]
    public void PublishersOnTheBusStartAfterTheStatusServicesQueuesAreDeclared()
    {
        var statusMigration = Assert.Single(ComposeFile.Services,
            s => ComposeFile.IsMigration(s.Value) && ComposeFile.ProjectOf(s.Value) == "EmailPlatform.Status");
        Assert.Contains("ConnectionStrings__RabbitMq", ComposeFile.Environment(statusMigration.Value).Keys);
        Assert.Equal("service_healthy", Yaml.Str(Yaml.At(statusMigration.Value, "depends_on.rabbitmq"), "condition"));

        var publishers = ComposeFile.Services.Where(s => ComposeFile.ProjectOf(s.Value) is "EmailPlatform.Ingress" or "EmailPlatform.Delivery"
            && !ComposeFile.IsMigration(s.Value)).ToList();
        Assert.NotEmpty(publishers);
        foreach (var (name, _) in publishers)
        {
            Assert.True(WaitsFor(name).Contains(statusMigration.Key), $"{name} may start before {statusMigration.Key} has declared the status service's queues");
        }

        static HashSet<string> WaitsFor(string service)
        {
            var seen = new HashSet<string>();
            var next = new Stack<string>([service]);
            while (next.TryPop(out var current))
            {
                foreach (var (dependency, spec) in Yaml.Entries(Yaml.At(ComposeFile.Service(current), "depends_on")))
                {
                    if (Yaml.Str(spec, "condition") != "service_started" && seen.Add(dependency))
                    {
                        next.Push(dependency);
                    }
                }
            }

            return seen;
        }
    }

    [Fact]
    public void ServicesWithAStoreWaitForTheirMigrationToComplete()
    {
        foreach (var (name, service) in ComposeFile.Services)
        {
            var project = ComposeFile.ProjectOf(service);
            if (project is null || ComposeFile.IsMigration(service)
                || !ComposeFile.Environment(service).ContainsKey("ConnectionStrings__Postgres"))
            {
                continue;
            }

            var migration = Yaml.Entries(Yaml.At(service, "depends_on"))
                .Where(d => ComposeFile.IsMigration(ComposeFile.Service(d.Key)) && ComposeFile.ProjectOf(ComposeFile.Service(d.Key)) == project)
                .ToList();
            Assert.True(migration.Count == 1, $"{name} does not depend on a '{project} migrate' service");
            Assert.Equal("service_completed_successfully", Yaml.Str(migration[0].Value, "condition"));
        }
    }

    [Fact]
    public void MountedConfigurationFilesExist()
    {
        var mounts = ComposeFile.Services
            .SelectMany(s => Yaml.List(Yaml.At(s.Value, "volumes")).OfType<string>().Select(v => (Service: s.Key, Source: v.Split(':')[0])))
            .Where(m => m.Source.StartsWith('.'))
            .ToList();
        Assert.Contains(mounts, m => m.Source.StartsWith("./deploy/grafana", StringComparison.Ordinal));
        Assert.Contains(mounts, m => m.Source.StartsWith("./deploy/prometheus", StringComparison.Ordinal));
        Assert.Contains(mounts, m => m.Source.StartsWith("./deploy/otel-collector", StringComparison.Ordinal));
        Assert.All(mounts, m => Assert.True(Repo.Exists(m.Source), $"{m.Service} mounts {m.Source}, which does not exist"));
    }

    [Fact]
    public void NamedVolumesAreDeclared()
    {
        var declared = Yaml.Entries(ComposeFile.Document.GetValueOrDefault("volumes")).Select(v => v.Key).ToHashSet();
        foreach (var (name, service) in ComposeFile.Services)
        {
            foreach (var volume in Yaml.List(Yaml.At(service, "volumes")).OfType<string>())
            {
                var source = volume.Split(':')[0];
                Assert.True(source.StartsWith('.') || source.StartsWith('/') || declared.Contains(source),
                    $"{name} uses volume '{source}', which is not declared under volumes:");
            }
        }
    }

    [Fact]
    public void TwoDeliveryWorkersCompeteForTheQueue()
    {
        var workers = ComposeFile.Services
            .Where(s => ComposeFile.ProjectOf(s.Value) == "EmailPlatform.Delivery" && Yaml.At(s.Value, "profiles") is null)
            .Sum(s => int.Parse(Yaml.Str(s.Value, "deploy.replicas") ?? "1", System.Globalization.CultureInfo.InvariantCulture));
        Assert.True(workers >= 2, $"{workers} delivery worker(s)");
    }

    [Fact]
    public void ThePublishedApiIsTheIngressOnPort8080()
    {
        var ingress = ComposeFile.Services.Single(s => ComposeFile.ProjectOf(s.Value) == "EmailPlatform.Ingress" && !ComposeFile.IsMigration(s.Value));
        Assert.Contains("8080:8080", Yaml.List(Yaml.At(ingress.Value, "ports")).OfType<string>());
    }

    [Fact]
    public void PrometheusScrapesEveryRunningService()
    {
        var prometheus = Repo.Read("deploy/prometheus/prometheus.yml");
        var config = Yaml.Parse(prometheus);
        var targets = Yaml.List(Yaml.At(config, "scrape_configs"))
            .SelectMany(job => Yaml.List(Yaml.At(job, "dns_sd_configs")).SelectMany(sd => Yaml.List(Yaml.At(sd, "names")))
                .Concat(Yaml.List(Yaml.At(job, "static_configs")).SelectMany(sc => Yaml.List(Yaml.At(sc, "targets")))))
            .OfType<string>()
            .Select(t => t.Split(':')[0])
            .ToHashSet();
        var running = ComposeFile.Services
            .Where(s => ComposeFile.ProjectOf(s.Value) is not null && !ComposeFile.IsMigration(s.Value) && Yaml.At(s.Value, "profiles") is null)
            .Select(s => s.Key)
            .Append("rabbitmq");
        Assert.All(running, name => Assert.Contains(name, targets));
    }
}
