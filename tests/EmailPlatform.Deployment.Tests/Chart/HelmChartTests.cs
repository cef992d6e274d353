using EmailPlatform.Delivery.Relays;
using EmailPlatform.Deployment.Tests.Support;
using Microsoft.Extensions.Configuration;

namespace EmailPlatform.Deployment.Tests.Chart;

public sealed class HelmChartTests
{
    private static readonly string[] Components = ["ingress", "delivery", "status"];

    private static readonly Dictionary<string, string> ProjectOf = new()
    {
        ["ingress"] = "EmailPlatform.Ingress",
        ["delivery"] = "EmailPlatform.Delivery",
        ["status"] = "EmailPlatform.Status",
    };

    /// <summary>The ci values files, <see cref="Helm.Minimal"/> (the defaults with the connection strings) among them.</summary>
    public static TheoryData<string> ValuesFiles() =>
        [.. Directory.EnumerateFiles(Repo.PathOf($"{Helm.Chart}/ci"), "*-values.yaml").Select(f => $"ci/{Path.GetFileName(f)}").Order()];

    /// <summary>The ci values files and the bare defaults, which lint cleanly though they do not render.</summary>
    public static TheoryData<string> LintedValuesFiles() => ["", .. ValuesFiles()];

    private static List<Dictionary<object, object>> Render(string valuesFile) => Helm.Template(valuesFile);

    [Theory]
    [MemberData(nameof(LintedValuesFiles))]
    public void LintsCleanly(string valuesFile)
    {
        var args = new List<string> { "lint", Helm.Chart, "--strict" };
        if (valuesFile.Length > 0)
        {
            args.AddRange(["-f", $"{Helm.Chart}/{valuesFile}"]);
        }

        var output = Helm.Run([.. args]);
        Assert.Contains("0 chart(s) failed", output, StringComparison.Ordinal);
        Assert.DoesNotContain("[WARNING]", output, StringComparison.Ordinal);
        Assert.DoesNotContain("[ERROR]", output, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(ValuesFiles))]
    public void RendersADeploymentAndServicePerComponent(string valuesFile)
    {
        var manifests = Render(valuesFile);
        Assert.Equal(3, manifests.OfKind("Deployment").Count());
        Assert.All(Components, c => Assert.Single(manifests.OfKind("Service"), s => s.Component() == c));
        Assert.All(Components, c => Assert.NotNull(manifests.Deployment(c)));
    }

    [Theory]
    [MemberData(nameof(ValuesFiles))]
    public void ProbesTheHealthEndpoints(string valuesFile)
    {
        foreach (var deployment in Render(valuesFile).OfKind("Deployment"))
        {
            var container = Assert.Single(deployment.Containers());
            Assert.Equal("/health/live", Yaml.Str(container, "livenessProbe.httpGet.path"));
            Assert.Equal("/health/ready", Yaml.Str(container, "readinessProbe.httpGet.path"));
            Assert.Equal("/health/live", Yaml.Str(container, "startupProbe.httpGet.path"));
            Assert.Equal("http", Yaml.Str(container, "readinessProbe.httpGet.port"));
            Assert.Contains(Yaml.List(Yaml.At(container, "ports")), p => Yaml.Str(p, "name") == "http" && Yaml.Str(p, "containerPort") == "8080");
        }
    }

    [Theory]
    [MemberData(nameof(ValuesFiles))]
    public void RunsNonRootOnAReadOnlyRootFilesystemWithAWritableTmp(string valuesFile)
    {
        var manifests = Render(valuesFile);
        foreach (var workload in manifests.OfKind("Deployment").Concat(manifests.OfKind("Job")))
        {
            var name = workload.Name();
            Assert.Equal("true", Yaml.Str(workload, "spec.template.spec.securityContext.runAsNonRoot"));
            Assert.Equal("RuntimeDefault", Yaml.Str(workload, "spec.template.spec.securityContext.seccompProfile.type"));
            var tmp = Yaml.List(Yaml.At(workload, "spec.template.spec.volumes")).Single(v => Yaml.Str(v, "name") == "tmp");
            Assert.NotNull(Yaml.At(tmp, "emptyDir"));
            Assert.All(workload.Containers(), container =>
            {
                Assert.True(Yaml.Str(container, "securityContext.readOnlyRootFilesystem") == "true", $"{name}: root filesystem is writable");
                Assert.Equal("false", Yaml.Str(container, "securityContext.allowPrivilegeEscalation"));
                Assert.Equal(["ALL"], Yaml.List(Yaml.At(container, "securityContext.capabilities.drop")));
                Assert.Contains(Yaml.List(Yaml.At(container, "volumeMounts")), m => Yaml.Str(m, "mountPath") == "/tmp");
            });
        }
    }

    [Fact]
    public void GivesEveryServiceAtLeastThirtySecondsToDrain()
    {
        foreach (var deployment in Helm.Template(Helm.Minimal).OfKind("Deployment"))
        {
            var grace = int.Parse(Yaml.Str(deployment, "spec.template.spec.terminationGracePeriodSeconds")!, System.Globalization.CultureInfo.InvariantCulture);
            Assert.InRange(grace, 30, 120);
        }
    }

    /// <summary>
    /// The kubelet kills a pod its grace period after SIGTERM, preStop sleep included: that must come after the sleep
    /// and the host's stop, which takes at most its Shutdown:Timeout (the one the chart sets, or the services' default).
    /// </summary>
    [Theory]
    [MemberData(nameof(ValuesFiles))]
    public void EveryPodsGracePeriodOutlastsItsPreStopSleepAndItsHostsShutdownTimeout(string valuesFile)
    {
        var manifests = Render(valuesFile);
        foreach (var deployment in manifests.OfKind("Deployment"))
        {
            var grace = TimeSpan.FromSeconds(Seconds(deployment, "spec.template.spec.terminationGracePeriodSeconds"));
            var sleep = TimeSpan.FromSeconds(Seconds(Assert.Single(deployment.Containers()), "lifecycle.preStop.sleep.seconds"));
            var shutdown = deployment.EnvironmentValue(manifests, "Shutdown__Timeout") is { } configured
                ? TimeSpan.Parse(configured, System.Globalization.CultureInfo.InvariantCulture)
                : new ServiceDefaults.Shutdown.ShutdownOptions().Timeout;
            Assert.True(grace >= sleep + shutdown + TimeSpan.FromSeconds(3),
                $"{deployment.Name()}: terminationGracePeriodSeconds {grace.TotalSeconds} leaves less than 3 s after a preStop sleep of {sleep.TotalSeconds} s and Shutdown:Timeout {shutdown}");
        }
    }

    [Fact]
    public void AGracePeriodNoLongerThanTheSleepAndTheShutdownTimeoutIsRefusedNamingTheValues()
    {
        var error = Helm.TemplateRefuses("delivery: { shutdownTimeoutSeconds: 60, terminationGracePeriodSeconds: 60 }");
        Assert.Contains("delivery.terminationGracePeriodSeconds (60) must be longer than delivery.shutdownTimeoutSeconds (60)", error, StringComparison.Ordinal);
        error = Helm.TemplateRefuses("ingress: { terminationGracePeriodSeconds: 35 }");
        Assert.Contains("ingress.terminationGracePeriodSeconds (35) must be longer than ingress.preStopSleepSeconds (5) and ingress.shutdownTimeoutSeconds (30) together", error, StringComparison.Ordinal);

        var longer = Helm.TemplateWith("delivery: { shutdownTimeoutSeconds: 60, terminationGracePeriodSeconds: 65 }");
        Assert.Equal("00:01:00", longer.Deployment("delivery").EnvironmentValue(longer, "Shutdown__Timeout"));
    }

    /// <summary>
    /// The grace period is checked against shutdownTimeoutSeconds, so Shutdown:Timeout set any other way (which would
    /// win over the chart's Shutdown__Timeout) is refused: delivery.config {"Shutdown:Timeout": "00:05:00"} rendered
    /// with a 35 s grace period, and the kubelet killed the workers mid-drain.
    /// </summary>
    [Theory]
    [InlineData("delivery: { config: { 'Shutdown:Timeout': '00:05:00' } }", "delivery.config sets Shutdown:Timeout: set delivery.shutdownTimeoutSeconds instead")]
    [InlineData("status: { config: { 'shutdown__TIMEOUT': '00:05:00' } }", "status.config sets shutdown__TIMEOUT: set status.shutdownTimeoutSeconds instead")]
    [InlineData("config: { 'Shutdown:Timeout': '00:05:00' }", "config sets Shutdown:Timeout: set ingress.shutdownTimeoutSeconds, delivery.shutdownTimeoutSeconds and status.shutdownTimeoutSeconds instead")]
    [InlineData("delivery: { env: [ { name: Shutdown__Timeout, value: '00:05:00' } ] }", "delivery.env sets Shutdown__Timeout: set delivery.shutdownTimeoutSeconds instead")]
    [InlineData("extraEnv: [ { name: DOTNET_Shutdown__Timeout, value: '00:05:00' } ]", "extraEnv sets DOTNET_Shutdown__Timeout")]
    public void AShutdownTimeoutSetPastShutdownTimeoutSecondsIsRefused(string values, string message) =>
        Assert.Contains(message, Helm.TemplateRefuses(values), StringComparison.Ordinal);

    /// <summary>
    /// The HTTP services sleep before SIGTERM reaches them, while their pod leaves the Service's endpoints, so that
    /// they are not sent requests after they have stopped accepting them. The images have no shell or sleep binary:
    /// the sleep action (Kubernetes 1.30) does it, and on an older cluster the chart says to turn it off.
    /// </summary>
    [Fact]
    public void TheHttpServicesSleepBeforeStoppingWhileTheirEndpointsAreRemoved()
    {
        var manifests = Helm.Template(Helm.Minimal);
        Assert.All(new[] { "ingress", "status" }, component =>
        {
            var container = Assert.Single(manifests.Deployment(component).Containers());
            Assert.InRange(Seconds(container, "lifecycle.preStop.sleep.seconds"), 3, 15);
            Assert.Null(Yaml.At(container, "lifecycle.preStop.exec"));
        });
        Assert.Null(Yaml.At(Assert.Single(manifests.Deployment("delivery").Containers()), "lifecycle"));

        var off = Helm.TemplateWith("ingress: { preStopSleepSeconds: 0 }");
        Assert.Null(Yaml.At(Assert.Single(off.Deployment("ingress").Containers()), "lifecycle"));

        var error = Helm.TemplateRefuses("{}", flags: ["--kube-version", "1.29.4"]);
        Assert.Contains("ingress.preStopSleepSeconds (5) needs Kubernetes 1.30 or later", error, StringComparison.Ordinal);
        Assert.Equal(3, Helm.TemplateWith("""
            ingress: { preStopSleepSeconds: 0 }
            status: { preStopSleepSeconds: 0 }
            """, "--kube-version", "1.29.4").OfKind("Deployment").Count());
    }

    private static int Seconds(object? node, string path) =>
        Yaml.Str(node, path) is { } value ? int.Parse(value, System.Globalization.CultureInfo.InvariantCulture) : 0;

    [Fact]
    public void MigratesEverySchemaInAPreInstallAndPreUpgradeHookJob()
    {
        var manifests = Helm.Template(Helm.Minimal);
        var job = Assert.Single(manifests.OfKind("Job"));
        Assert.Equal("pre-install,pre-upgrade", Yaml.Key(Yaml.At(job, "metadata.annotations"), "helm.sh/hook"));

        var containers = job.Containers().ToList();
        Assert.Equal(3, containers.Count);
        Assert.All(containers, c => Assert.Equal(["migrate"], Yaml.List(Yaml.At(c, "args"))));
        Assert.Contains(containers, c => Yaml.Str(c, "image")!.Contains("/ingress:", StringComparison.Ordinal));
        Assert.Contains(containers, c => Yaml.Str(c, "image")!.Contains("/status:", StringComparison.Ordinal));
        Assert.Contains(containers, c => Yaml.Str(c, "image")!.Contains("/delivery:", StringComparison.Ordinal));
        Assert.Equal("Never", Yaml.Str(job, "spec.template.spec.restartPolicy"));

        // The hook runs before the release's own Secret exists, so it must not depend on it.
        var release = manifests.OfKind("Secret").Where(s => Yaml.At(s, "metadata.annotations") is null).Select(s => s.Name()).ToHashSet();
        var referenced = containers.SelectMany(c => Yaml.List(Yaml.At(c, "env"))).Select(e => Yaml.Str(e, "valueFrom.secretKeyRef.name")).OfType<string>();
        Assert.All(referenced, name => Assert.DoesNotContain(name, release));
    }

    /// <summary>
    /// Every try and back-off (10 s, doubling) fits in the Job's deadline, which ends before Helm's default --timeout
    /// (5 minutes): the Job fails with its own reason before Helm stops waiting and removes the hook Secret a try
    /// still running would read. A failed Job stays for its logs; its Secret goes as on success.
    /// </summary>
    [Fact]
    public void TheMigrationsJobGivesUpOnItsOwnBeforeHelmsDefaultTimeout()
    {
        var manifests = Helm.Template(Helm.Minimal);
        var job = Assert.Single(manifests.OfKind("Job"));
        var backoffLimit = int.Parse(Yaml.Str(job, "spec.backoffLimit")!, System.Globalization.CultureInfo.InvariantCulture);
        var deadline = int.Parse(Yaml.Str(job, "spec.activeDeadlineSeconds")!, System.Globalization.CultureInfo.InvariantCulture);
        var backoffs = Enumerable.Range(0, backoffLimit).Sum(i => 10 << i);

        Assert.InRange(backoffLimit, 1, 3);
        Assert.True(backoffs < deadline / 2, $"back-offs of {backoffs} s leave the tries too little of {deadline} s");
        Assert.True(deadline < 300, $"activeDeadlineSeconds {deadline} is not under Helm's default --timeout of 300 s");

        var annotations = Yaml.At(job, "metadata.annotations");
        Assert.Equal("before-hook-creation,hook-succeeded", Yaml.Key(annotations, "helm.sh/hook-delete-policy"));
        Assert.Equal("hook-failed", Yaml.Key(annotations, "helm.sh/hook-output-log-policy"));
        var secret = manifests.OfKind("Secret").Single(s => Yaml.At(s, "metadata.annotations") is not null);
        Assert.Equal("before-hook-creation,hook-succeeded", Yaml.Key(Yaml.At(secret, "metadata.annotations"), "helm.sh/hook-delete-policy"));
    }

    /// <summary>
    /// On tainted or dedicated node pools a migrations pod without the components' scheduling stays Pending until the
    /// Job's deadline, failing every install and upgrade; with Istio sidecar injection it never completes unless its
    /// pod can be annotated.
    /// </summary>
    [Fact]
    public void TheMigrationsJobTakesItsOwnSchedulingAndPodAnnotations()
    {
        var bare = Yaml.At(Assert.Single(Helm.Template(Helm.Minimal).OfKind("Job")), "spec.template");
        Assert.Null(Yaml.At(bare, "metadata.annotations"));
        Assert.All(new[] { "nodeSelector", "tolerations", "affinity" }, key => Assert.Null(Yaml.At(bare, $"spec.{key}")));

        var job = Assert.Single(Helm.TemplateWith("""
            migrations:
              podAnnotations: { sidecar.istio.io/inject: "false" }
              nodeSelector: { pool: mail }
              tolerations: [ { key: dedicated, operator: Equal, value: mail, effect: NoSchedule } ]
              affinity:
                nodeAffinity:
                  requiredDuringSchedulingIgnoredDuringExecution:
                    nodeSelectorTerms: [ { matchExpressions: [ { key: pool, operator: In, values: [mail] } ] } ]
            """).OfKind("Job"));
        var pod = Yaml.At(job, "spec.template");
        Assert.Equal("false", Yaml.Key(Yaml.At(pod, "metadata.annotations"), "sidecar.istio.io/inject"));
        Assert.Equal("mail", Yaml.Str(pod, "spec.nodeSelector.pool"));
        var toleration = Assert.Single(Yaml.List(Yaml.At(pod, "spec.tolerations")));
        Assert.Equal("dedicated", Yaml.Str(toleration, "key"));
        Assert.Equal("NoSchedule", Yaml.Str(toleration, "effect"));
        var term = Assert.Single(Yaml.List(Yaml.At(pod, "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms")));
        Assert.Equal("pool", Yaml.Str(Assert.Single(Yaml.List(Yaml.At(term, "matchExpressions"))), "key"));
    }

    /// <summary>
    /// PostgreSQL or RabbitMQ over TLS with a private CA, mounted into the components with their extraVolumes, needs
    /// the same in the migrations Job, which connects to both first: its own volumes, mounted into every migration
    /// container, its own environment after extraEnv, and a ServiceAccount (a cloud identity for the database). None
    /// by default: the pod runs as the namespace's default account, the pre-install hook running before the chart's.
    /// </summary>
    [Fact]
    public void TheMigrationsJobTakesItsOwnVolumesEnvironmentAndServiceAccount()
    {
        var bare = Yaml.At(Assert.Single(Helm.Template(Helm.Minimal).OfKind("Job")), "spec.template.spec");
        Assert.Null(Yaml.At(bare, "serviceAccountName"));
        Assert.Equal(["tmp"], Yaml.List(Yaml.At(bare, "volumes")).Select(v => Yaml.Str(v, "name")));

        var job = Assert.Single(Helm.TemplateWith("""
            extraEnv: [ { name: DOTNET_GCHeapHardLimitPercent, value: "0x4B" } ]
            serviceAccount: { automountServiceAccountToken: true }
            migrations:
              serviceAccountName: emailplatform-migrations
              env: [ { name: SSL_CERT_FILE, value: /etc/emailplatform/ca/ca.pem } ]
              extraVolumes: [ { name: database-ca, configMap: { name: database-ca } } ]
              extraVolumeMounts: [ { name: database-ca, mountPath: /etc/emailplatform/ca, readOnly: true } ]
            """).OfKind("Job"));
        var pod = Yaml.At(job, "spec.template.spec");
        Assert.Equal("emailplatform-migrations", Yaml.Str(pod, "serviceAccountName"));
        // The Job talks to no Kubernetes API: it mounts no token, whatever the components' setting (the namespace's default
        // account's token, when it runs as that one).
        Assert.Equal("false", Yaml.Str(pod, "automountServiceAccountToken"));
        Assert.Contains(Yaml.List(Yaml.At(pod, "volumes")), v => Yaml.Str(v, "name") == "database-ca" && Yaml.Str(v, "configMap.name") == "database-ca");
        var containers = job.Containers().ToList();
        Assert.Equal(3, containers.Count);
        Assert.All(containers, container =>
        {
            Assert.Contains(Yaml.List(Yaml.At(container, "volumeMounts")), m => Yaml.Str(m, "name") == "database-ca" && Yaml.Str(m, "mountPath") == "/etc/emailplatform/ca");
            var env = Yaml.List(Yaml.At(container, "env")).Select(e => Yaml.Str(e, "name")).ToList();
            Assert.Contains("SSL_CERT_FILE", env);
            Assert.True(env.IndexOf("DOTNET_GCHeapHardLimitPercent") < env.IndexOf("SSL_CERT_FILE"), "migrations.env comes after extraEnv, so that it wins");
        });
    }

    [Theory]
    [MemberData(nameof(ValuesFiles))]
    public void ConfigurationKeysAreOnesTheServicesRead(string valuesFile)
    {
        var manifests = Render(valuesFile);
        foreach (var component in Components)
        {
            var names = manifests.Deployment(component).EnvironmentNames(manifests).ToList();
            Assert.True(!ServiceSources.UnreadBy(ProjectOf[component], names).Any(),
                $"{component} gets {string.Join(", ", ServiceSources.UnreadBy(ProjectOf[component], names))}, which {ProjectOf[component]} does not read");

            Assert.Contains("Auth__BootstrapKey", names);
            Assert.Contains("ConnectionStrings__RabbitMq", names);
            Assert.Contains("ConnectionStrings__Postgres", names);
        }
    }

    /// <summary>
    /// A key under a section no service defines is read by nothing: Webhook (for Webhooks) or Delivry given in the values
    /// must fail the check above, not be skipped like the runtime's own variables (Logging__, OTEL_…, ASPNETCORE_…).
    /// </summary>
    [Fact]
    public void AConfigurationKeyUnderAMisspeltSectionIsOneTheServicesDoNotRead()
    {
        var manifests = Helm.TemplateWith("""
            config: { 'Webhook:AllowPrivateTargets': 'true' }
            delivery: { config: { 'Delivry:StatusUrl': 'http://status:8080' } }
            """);
        string[] Unread(string component) =>
            [.. ServiceSources.UnreadBy(ProjectOf[component], manifests.Deployment(component).EnvironmentNames(manifests))];

        Assert.Equal(["Webhook__AllowPrivateTargets"], Unread("status"));
        Assert.Equal(["Delivry__StatusUrl", "Webhook__AllowPrivateTargets"], Unread("delivery").Order(StringComparer.Ordinal));
    }

    [Fact]
    public void RendersEachRelayIntoIndexedDeliveryKeysWithCredentialsFromTheSecret()
    {
        var manifests = Helm.Template("ci/all-on-values.yaml");
        var delivery = manifests.Deployment("delivery");
        var names = delivery.EnvironmentNames(manifests).ToHashSet();
        Assert.Contains("Delivery__Relays__0__Host", names);
        Assert.Contains("Delivery__Relays__1__Host", names);
        Assert.Contains("Delivery__Relays__1__Security", names);

        var password = Yaml.List(Yaml.At(Assert.Single(delivery.Containers()), "env")).Single(e => Yaml.Str(e, "name") == "Delivery__Relays__0__Password");
        Assert.Equal("emailplatform-credentials", Yaml.Str(password, "valueFrom.secretKeyRef.name"));
        Assert.Null(Yaml.At(password, "value"));
    }

    /// <summary>
    /// Behind restricted egress a TLS relay's revocation lookups (OCSP, CRL) are dropped and its handshakes fail: a
    /// relay's checkCertificateRevocation reaches the workers as that relay's key, and only where it is given (the worker
    /// checks by default).
    /// </summary>
    [Fact]
    public void ARelaysRevocationCheckIsRenderedForThatRelayOnly()
    {
        var manifests = Helm.Template("ci/all-on-values.yaml");
        var delivery = manifests.Deployment("delivery");
        Assert.Equal("false", delivery.EnvironmentValue(manifests, "Delivery__Relays__1__CheckCertificateRevocation"));
        Assert.Null(delivery.EnvironmentValue(manifests, "Delivery__Relays__0__CheckCertificateRevocation"));

        Assert.Contains("at '/delivery/relays/0/checkCertificateRevocation': got string, want boolean",
            Helm.TemplateRefuses("delivery: { relays: [ { name: primary, host: smtp.example.net, checkCertificateRevocation: 'no' } ] }"),
            StringComparison.Ordinal);
    }

    [Fact]
    public void AnExistingSecretReplacesTheChartsSecret()
    {
        var manifests = Helm.Template("ci/all-on-values.yaml");
        Assert.Empty(manifests.OfKind("Secret"));
        var references = manifests.OfKind("Deployment").Concat(manifests.OfKind("Job"))
            .SelectMany(w => w.Containers()).SelectMany(c => Yaml.List(Yaml.At(c, "env")))
            .Select(e => Yaml.Str(e, "valueFrom.secretKeyRef.name")).OfType<string>().ToHashSet();
        Assert.Equal(["emailplatform-credentials"], references);
    }

    [Fact]
    public void PodsRollWhenTheChartsOwnSecretChangesButNotOnAnExistingSecretTheyCannotSee()
    {
        var owned = Helm.Template(Helm.Minimal);
        Assert.All(Components, c => Assert.Matches("^[0-9a-f]{64}$", Yaml.Str(owned.Deployment(c), "spec.template.metadata.annotations.checksum/secret")));

        var existing = Helm.Template("ci/all-on-values.yaml");
        Assert.All(Components, c => Assert.Null(Yaml.At(existing.Deployment(c), "spec.template.metadata.annotations.checksum/secret")));
    }

    /// <summary>
    /// A Deployment's checksum/config covers its own component's settings only: scaling the ingress (which changes
    /// its Ingress__RateLimit__Replicas) or a status setting must not restart the workers, whose SMTP transactions a
    /// restart cuts off (the duplicate window).
    /// </summary>
    [Fact]
    public void PodsRollWhenTheirOwnComponentsSettingsChangeButNotAnothers()
    {
        static Dictionary<string, string?> Checksums(List<Dictionary<object, object>> manifests) =>
            Components.ToDictionary(c => c, c => Yaml.Str(manifests.Deployment(c), "spec.template.metadata.annotations.checksum/config"));

        var minimal = Checksums(Helm.Template(Helm.Minimal));
        Assert.All(Components, c => Assert.Matches("^[0-9a-f]{64}$", minimal[c]));

        var scaledIngress = Checksums(Helm.TemplateWith("ingress: { replicas: 3 }"));
        Assert.NotEqual(minimal["ingress"], scaledIngress["ingress"]);
        Assert.Equal(minimal["delivery"], scaledIngress["delivery"]);
        Assert.Equal(minimal["status"], scaledIngress["status"]);

        var statusSetting = Checksums(Helm.TemplateWith("status: { config: { 'Status:Retention:BodiesAfter': '30.00:00:00' } }"));
        Assert.NotEqual(minimal["status"], statusSetting["status"]);
        Assert.Equal(minimal["delivery"], statusSetting["delivery"]);
        Assert.Equal(minimal["ingress"], statusSetting["ingress"]);

        var everyComponent = Checksums(Helm.TemplateWith("config: { 'Logging:LogLevel:Default': Warning }"));
        Assert.All(Components, c => Assert.NotEqual(minimal[c], everyComponent[c]));
    }

    /// <summary>
    /// The generated API key is random at each render until lookup finds the Secret (on install, and always with
    /// helm template), so checksum/secret is computed from the values that make up the Secret, not from the rendered
    /// Secret: one checksum for the three Deployments, the same at every render, and no roll at the first upgrade.
    /// The workers' covers the relays' credentials too, which only they read.
    /// </summary>
    [Fact]
    public void TheSecretChecksumDoesNotDependOnTheGeneratedApiKey()
    {
        static Dictionary<string, string?> Checksums(List<Dictionary<object, object>> manifests) =>
            Components.ToDictionary(c => c, c => Yaml.Str(manifests.Deployment(c), "spec.template.metadata.annotations.checksum/secret"));

        var first = Checksums(Helm.Template(Helm.Minimal));
        var second = Checksums(Helm.Template(Helm.Minimal));
        Assert.Single(first.Values.Distinct());
        Assert.Equal(first, second);

        var relayPassword = Checksums(Helm.TemplateWith("""
            delivery:
              relays:
                - { name: primary, host: smtp.example.net, port: 587, security: StartTls, username: apikey, password: relay-secret }
            """));
        Assert.NotEqual(first["delivery"], relayPassword["delivery"]);
        Assert.Equal(first["ingress"], relayPassword["ingress"]);
        Assert.Equal(first["status"], relayPassword["status"]);

        var givenKey = Checksums(Helm.TemplateWith("secrets: { bootstrapKey: ep_0123456789abcdef0123456789abcdef }"));
        Assert.All(Components, c => Assert.NotEqual(first[c], givenKey[c]));
    }

    [Fact]
    public void EachIngressReplicaEnforcesItsShareOfAKeysRateLimit()
    {
        var data = Yaml.At(Helm.Template(Helm.Minimal).OfKind("ConfigMap").Single(c => c.Component() == "ingress"), "data");
        Assert.Equal("2", Yaml.Str(data, "Ingress__RateLimit__Replicas"));
    }

    [Theory]
    [InlineData("{}", "secrets.postgresConnectionString and secrets.rabbitMqConnectionString: required unless secrets.existingSecret")]
    [InlineData("secrets: { postgresConnectionString: 'Host=postgres' }", "secrets.rabbitMqConnectionString: required unless secrets.existingSecret")]
    [InlineData("secrets: { rabbitMqConnectionString: 'amqp://rabbitmq/' }", "secrets.postgresConnectionString: required unless secrets.existingSecret")]
    [InlineData("migrations: { enabled: false }", "secrets.postgresConnectionString and secrets.rabbitMqConnectionString: required")]
    public void WithoutAnExistingSecretAMissingConnectionStringIsRefusedAtRendering(string values, string message) =>
        Assert.Contains(message, Helm.TemplateRefuses(values, overMinimal: false), StringComparison.Ordinal);

    [Theory]
    // The defaults name no relay: deployed as they are, every worker would defer every email to a host that does not
    // exist until the mail expired.
    [InlineData("secrets: { postgresConnectionString: 'Host=postgres', rabbitMqConnectionString: 'amqp://rabbitmq/' }", false, "delivery.relays[0].host is required")]
    // An empty host (which the schema lets through, so that the defaults lint) is refused for any relay, naming its index.
    [InlineData("delivery: { relays: [ { name: primary, host: smtp.example.net }, { name: backup, host: '', port: 25 } ] }", true, "delivery.relays[1].host is required")]
    public void ARelayWithoutAHostIsRefusedAtRendering(string values, bool overMinimal, string message) =>
        Assert.Contains(message, Helm.TemplateRefuses(values, overMinimal), StringComparison.Ordinal);

    [Fact]
    public void WithAnExistingSecretNoConnectionStringIsNeeded()
    {
        var manifests = Helm.TemplateWith("""
            secrets:
              existingSecret: emailplatform-credentials
              postgresConnectionString: ""
              rabbitMqConnectionString: ""
            """);
        Assert.Empty(manifests.OfKind("Secret"));
    }

    [Fact]
    public void WithoutAnExistingSecretTheChartGeneratesAnApiKey()
    {
        var secret = Helm.Template(Helm.Minimal).OfKind("Secret").Single(s => Yaml.At(s, "metadata.annotations") is null);
        Assert.True(Yaml.Str(secret, "stringData.bootstrap-key")!.Length >= 24);
    }

    [Fact]
    public void TurningEverythingOnAddsRoutingAutoscalingMonitoringAndNetworkPolicies()
    {
        var manifests = Helm.Template("ci/all-on-values.yaml");
        string[] kinds = ["Ingress", "HTTPRoute", "HorizontalPodAutoscaler", "ServiceMonitor", "PrometheusRule", "PodDisruptionBudget", "NetworkPolicy"];
        Assert.All(kinds, kind => Assert.NotEmpty(manifests.OfKind(kind)));
        Assert.Null(Yaml.At(manifests.Deployment("delivery"), "spec.replicas"));
        var monitor = manifests.OfKind("ServiceMonitor").Single();
        Assert.Equal("/metrics", Yaml.Str(Yaml.List(Yaml.At(monitor, "spec.endpoints")).Single(), "path"));
        // It selects the three services' HTTP Services, not the bounce listener's (SMTP, no /metrics).
        var matchLabels = Labels(Yaml.At(monitor, "spec.selector.matchLabels"));
        var components = Yaml.List(Yaml.At(Yaml.List(Yaml.At(monitor, "spec.selector.matchExpressions")).Single(), "values")).Cast<string>().ToList();
        var selected = manifests.OfKind("Service")
            .Where(s => matchLabels.All(l => Labels(Yaml.At(s, "metadata.labels")).GetValueOrDefault(l.Key) == l.Value) && components.Contains(s.Component()!))
            .Select(s => s.Component());
        Assert.Equal(["delivery", "ingress", "status"], selected.Order(StringComparer.Ordinal));
    }

    /// <summary>
    /// The Ingress and the HTTPRoute publish the API, its reference and its OpenAPI document, not /metrics (no
    /// authentication) or /health/*: Prometheus and the kubelet reach the pods directly.
    /// </summary>
    [Fact]
    public void TheIngressAndTheHttpRoutePublishTheApiButNotMetricsOrHealth()
    {
        var manifests = Helm.Template("ci/all-on-values.yaml");
        var ingressPaths = Yaml.List(Yaml.At(manifests.OfKind("Ingress").Single(), "spec.rules"))
            .SelectMany(r => Yaml.List(Yaml.At(r, "http.paths")))
            .Select(p => (Path: Yaml.Str(p, "path")!, Type: Yaml.Str(p, "pathType")!))
            .ToList();
        var routePaths = Yaml.List(Yaml.At(manifests.OfKind("HTTPRoute").Single(), "spec.rules"))
            .SelectMany(r => Yaml.List(Yaml.At(r, "matches")))
            .Select(m => (Path: Yaml.Str(m, "path.value")!, Type: Yaml.Str(m, "path.type")!))
            .ToList();

        foreach (var (path, type) in ingressPaths.Concat(routePaths))
        {
            Assert.Contains(type, new[] { "Prefix", "PathPrefix", "Exact" });
            Assert.All(new[] { "/metrics", "/health/ready", "/health/live" }, hidden =>
                Assert.False(hidden == path || (type != "Exact" && (path == "/" || hidden.StartsWith(path + "/", StringComparison.Ordinal))),
                    $"{type} {path} routes {hidden} to the API"));
        }

        Assert.Equal(["/v1", "/docs", "/openapi"], routePaths.Select(p => p.Path));
        // The first host gets ingress.publicPaths, the second lists its own.
        Assert.Equal(["/v1", "/docs", "/openapi", "/v1"], ingressPaths.Select(p => p.Path));
    }

    /// <summary>
    /// ingress-nginx takes bodies of 1 MB and waits 60 s for an upstream's answer by default (F5's NGINX Ingress
    /// Controller too): a send the API accepts (Ingress:MaxRequestBodyBytes, 40 MB) would get the controller's HTML 413,
    /// and a forwarded read or admin operation (Ingress:StatusTimeout, 100 s) the controller's 504, not the API's
    /// problem details. With a className naming nginx, or none, the Ingress raises both a little above the API's limits,
    /// as the ingress is configured; annotations given in the values win, and another controller gets none of these.
    /// </summary>
    [Fact]
    public void AnNginxIngressTakesTheBodiesTheApiTakesAndWaitsLongerThanItsStatusTimeout()
    {
        const long MiB = 1024 * 1024;
        var defaults = IngressAnnotations("ingress: { kubernetesIngress: { enabled: true, className: nginx } }");
        foreach (var key in new[] { "nginx.ingress.kubernetes.io/proxy-body-size", "nginx.org/client-max-body-size" })
        {
            Assert.InRange(NginxSize(defaults[key]), 40 * MiB + 1, 50 * MiB);
        }

        foreach (var key in new[] { "proxy-read-timeout", "proxy-send-timeout" })
        {
            Assert.InRange(NginxSeconds(defaults[$"nginx.ingress.kubernetes.io/{key}"]), 101, 160);
            Assert.EndsWith("s", defaults[$"nginx.org/{key}"], StringComparison.Ordinal);
            Assert.InRange(NginxSeconds(defaults[$"nginx.org/{key}"]), 101, 160);
        }

        var configured = IngressAnnotations("""
            config: { "Ingress:StatusTimeout": "00:05:00" }
            ingress:
              config: { "Ingress:MaxRequestBodyBytes": 104857600 }
              kubernetesIngress:
                enabled: true
                className: nginx
                annotations: { nginx.ingress.kubernetes.io/proxy-send-timeout: "30", cert-manager.io/cluster-issuer: letsencrypt }
            """);
        Assert.InRange(NginxSize(configured["nginx.ingress.kubernetes.io/proxy-body-size"]), 100 * MiB + 1, 125 * MiB);
        Assert.InRange(NginxSeconds(configured["nginx.ingress.kubernetes.io/proxy-read-timeout"]), 301, 360);
        Assert.Equal("30", configured["nginx.ingress.kubernetes.io/proxy-send-timeout"]);
        Assert.Equal("letsencrypt", configured["cert-manager.io/cluster-issuer"]);

        // A class whose name says nginx, or none (the cluster's default class, often ingress-nginx), gets them too.
        foreach (var className in new[] { "nginx-public", "NGINX-internal", "\"\"" })
        {
            var named = IngressAnnotations($"ingress: {{ kubernetesIngress: {{ enabled: true, className: {className} }} }}");
            Assert.InRange(NginxSize(named["nginx.ingress.kubernetes.io/proxy-body-size"]), 40 * MiB + 1, 50 * MiB);
        }

        var other = IngressAnnotations("ingress: { kubernetesIngress: { enabled: true, className: traefik, annotations: { a: b } } }");
        Assert.Equal(["a"], other.Keys);
    }

    /// <summary>
    /// Some gateways time a request out after 15 s by default (Envoy Gateway, Contour), shorter than a forwarded read may
    /// take: the HTTPRoute's rule carries the timeouts given in ingress.httpRoute.timeouts, and none by default (a
    /// gateway without the extended feature would refuse the route).
    /// </summary>
    [Fact]
    public void TheHttpRouteCarriesTheTimeoutsGivenAndNoneByDefault()
    {
        const string route = "ingress: { httpRoute: { enabled: true, parentRefs: [{ name: gw }]{0} } }";
        var given = Helm.TemplateWith(route.Replace("{0}", ", timeouts: { request: 120s }", StringComparison.Ordinal)).OfKind("HTTPRoute").Single();
        var none = Helm.TemplateWith(route.Replace("{0}", "", StringComparison.Ordinal)).OfKind("HTTPRoute").Single();

        Assert.Equal("120s", Yaml.Str(Yaml.List(Yaml.At(given, "spec.rules")).Single(), "timeouts.request"));
        Assert.Null(Yaml.Str(Yaml.List(Yaml.At(none, "spec.rules")).Single(), "timeouts.request"));
    }

    private static Dictionary<string, string> IngressAnnotations(string values) =>
        Yaml.Entries(Yaml.At(Helm.TemplateWith(values).OfKind("Ingress").Single(), "metadata.annotations"))
            .ToDictionary(e => e.Key, e => (string)e.Value!);

    /// <summary>An nginx size (<c>44m</c>, <c>512k</c>, bytes) in bytes.</summary>
    private static long NginxSize(string size) => size[^1] switch
    {
        'm' or 'M' => long.Parse(size[..^1], System.Globalization.CultureInfo.InvariantCulture) * 1024 * 1024,
        'k' or 'K' => long.Parse(size[..^1], System.Globalization.CultureInfo.InvariantCulture) * 1024,
        _ => long.Parse(size, System.Globalization.CultureInfo.InvariantCulture),
    };

    private static int NginxSeconds(string timeout) =>
        int.Parse(timeout.TrimEnd('s'), System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>
    /// A pod that runs but is not ready (a worker while RabbitMQ is down) may be evicted: under the default policy it
    /// would use up the budget and block every node drain until it was ready again.
    /// </summary>
    [Fact]
    public void DisruptionBudgetsLetPodsThatAreNotReadyBeEvicted()
    {
        var budgets = Helm.Template(Helm.Minimal).OfKind("PodDisruptionBudget").ToList();
        Assert.Equal(Components.Order(), budgets.Select(b => b.Component()).Order());
        Assert.All(budgets, b => Assert.Equal("AlwaysAllow", Yaml.Str(b, "spec.unhealthyPodEvictionPolicy")));
    }

    [Fact]
    public void ShipsTheSameAlertRulesAndDashboardAsTheComposeStack()
    {
        var manifests = Helm.Template("ci/all-on-values.yaml");
        var rule = manifests.OfKind("PrometheusRule").Single();
        var shipped = Yaml.List(Yaml.At(rule, "spec.groups")).SelectMany(g => Yaml.List(Yaml.At(g, "rules"))).Select(r => Yaml.Str(r, "alert")).ToList();
        var compose = Yaml.List(Yaml.At(Yaml.Parse(Repo.Read(AlertRulesTests.RulesFile)), "groups"))
            .SelectMany(g => Yaml.List(Yaml.At(g, "rules"))).Select(r => Yaml.Str(r, "alert")).ToList();
        Assert.Equal(compose, shipped);

        var dashboards = manifests.OfKind("ConfigMap").Single(c => c.Name().EndsWith("-dashboards", StringComparison.Ordinal));
        Assert.Equal(Repo.Read(DashboardTests.DashboardFile).TrimEnd(), Yaml.Key(Yaml.At(dashboards, "data"), "email-platform.json")!.TrimEnd());
    }

    [Fact]
    public void KedaScalesTheDeliveryWorkersOnEveryPriorityLaneInsteadOfTheHpa()
    {
        var manifests = Helm.Template("ci/keda-values.yaml");
        var scaledObject = manifests.OfKind("ScaledObject").Single();
        Assert.Empty(manifests.OfKind("HorizontalPodAutoscaler"));
        Assert.Equal(manifests.Deployment("delivery").Name(), Yaml.Str(scaledObject, "spec.scaleTargetRef.name"));
        var triggers = Yaml.List(Yaml.At(scaledObject, "spec.triggers"));
        Assert.All(triggers, trigger =>
        {
            Assert.Equal("rabbitmq", Yaml.Str(trigger, "type"));
            Assert.Equal("QueueLength", Yaml.Str(trigger, "metadata.mode"));
            Assert.Equal("ConnectionStrings__RabbitMq", Yaml.Str(trigger, "metadata.hostFromEnv"));
            Assert.True(int.Parse(Yaml.Str(trigger, "metadata.value")!, System.Globalization.CultureInfo.InvariantCulture) > 0);
        });

        var lanes = ServiceSources.DeliveryLanes;
        Assert.Equal(["send-email-bulk", "send-email-high", "send-email-normal"], lanes.Order());
        Assert.Equal(lanes.Order(), triggers.Select(t => Yaml.Str(t, "metadata.queueName")).Order());

        // The delivery container carries the variable KEDA reads the broker address from.
        Assert.Contains("ConnectionStrings__RabbitMq", manifests.Deployment("delivery").EnvironmentNames(manifests));
        // Workers are removed at the pace of the HPA's scale-down window (KEDA's cooldownPeriod applies to zero only).
        Assert.Equal("300", Yaml.Str(scaledObject, "spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleDown.stabilizationWindowSeconds"));
        Assert.Null(Yaml.At(scaledObject, "spec.cooldownPeriod"));
        // Values written for an earlier version, with the cooldownPeriod that never had an effect, still install.
        var earlier = Helm.TemplateWith("delivery: { keda: { enabled: true, cooldownPeriod: 600 } }").OfKind("ScaledObject").Single();
        Assert.Null(Yaml.At(earlier, "spec.cooldownPeriod"));
    }

    /// <summary>
    /// Deferred recipients wait in PostgreSQL, not in a queue KEDA or the HPA watches: only a running worker's
    /// RetryScheduler hands them back (and expires them, and takes over a crashed worker's claims). Scaled to zero on
    /// empty lanes, greylisted mail would never be retried. The schema refuses 0, and the template does too when the
    /// schema is skipped.
    /// </summary>
    [Theory]
    [InlineData("delivery: { keda: { enabled: true, minReplicaCount: 0 } }", "delivery.keda.minReplicaCount", "minReplicaCount")]
    [InlineData("delivery: { autoscaling: { enabled: true, minReplicas: 0 } }", "delivery.autoscaling.minReplicas", "minReplicas")]
    public void TheDeliveryWorkersCannotBeScaledToZero(string values, string key, string schemaKey)
    {
        Assert.Contains(schemaKey, Helm.TemplateRefuses(values), StringComparison.Ordinal);

        var error = Helm.TemplateRefuses(values, flags: ["--skip-schema-validation"]);
        Assert.Contains($"{key} (0) must be at least 1", error, StringComparison.Ordinal);
        Assert.Contains("RetryScheduler", error, StringComparison.Ordinal);

        var one = Helm.TemplateWith(values.Replace(": 0 }", ": 1 }", StringComparison.Ordinal));
        var scaler = one.OfKind("ScaledObject").Concat(one.OfKind("HorizontalPodAutoscaler")).Single();
        Assert.Equal("1", Yaml.Str(scaler, $"spec.{schemaKey}"));
    }

    /// <summary>The ingress refuses a return path it cannot add an id to (IngressOptionsValidator): so does the schema, at install.</summary>
    [Fact]
    public void AReturnPathThatIsNotAPlainAddressIsRefusedAsTheIngressWould()
    {
        Assert.Contains("returnPath", Helm.TemplateRefuses("ingress: { returnPath: 'Bounces <bounces@bounce.example.com>' }"), StringComparison.Ordinal);
        Assert.Contains("returnPath", Helm.TemplateRefuses("ingress: { returnPath: 'bounces+x@bounce.example.com' }"), StringComparison.Ordinal);
        Assert.NotEmpty(Helm.TemplateWith("ingress: { returnPath: bounces@bounce.example.com }").OfKind("Deployment"));
    }

    private const string BounceListener = """
        status:
          bounceListener:
            enabled: true
            domains: [bounce.example.com, Bounces.Example.org]
            serverName: mx.bounce.example.com
            service:
              annotations: { external-dns.alpha.kubernetes.io/hostname: mx.bounce.example.com }
              loadBalancerSourceRanges: [198.51.100.0/24]
        """;

    private static Dictionary<object, object>? BounceService(List<Dictionary<object, object>> manifests) =>
        manifests.OfKind("Service").SingleOrDefault(s => s.Name() == "emailplatform-email-platform-status-bounces");

    private static List<object> ContainerPorts(Dictionary<object, object> deployment) =>
        Yaml.List(Yaml.At(Assert.Single(deployment.Containers()), "ports"));

    [Fact]
    public void TheBounceListenerIsOffByDefault()
    {
        var manifests = Helm.Template(Helm.Minimal);
        Assert.Null(BounceService(manifests));
        Assert.Equal(Components.Order(), manifests.OfKind("Service").Select(s => s.Component()).Order());
        Assert.All(Components, c => Assert.Equal(["http"], ContainerPorts(manifests.Deployment(c)).Select(p => Yaml.Str(p, "name"))));
        Assert.DoesNotContain(manifests.Deployment("status").EnvironmentNames(manifests), n => n.StartsWith("Status__BounceListener__", StringComparison.Ordinal));
    }

    /// <summary>
    /// Enabled, the status service gets the listener's port and domains, its container that port (named), and a Service of
    /// its own on port 25 for the MX record to point at, which selects the status pods and nothing else.
    /// </summary>
    [Fact]
    public void AnEnabledBounceListenerGetsItsSettingsAContainerPortAndAServiceOnPort25ForTheStatusPods()
    {
        var manifests = Helm.TemplateWith(BounceListener);
        var status = manifests.Deployment("status");
        Assert.Equal("2525", status.EnvironmentValue(manifests, "Status__BounceListener__Port"));
        Assert.Equal("bounce.example.com", status.EnvironmentValue(manifests, "Status__BounceListener__Domains__0"));
        Assert.Equal("Bounces.Example.org", status.EnvironmentValue(manifests, "Status__BounceListener__Domains__1"));
        Assert.Equal("mx.bounce.example.com", status.EnvironmentValue(manifests, "Status__BounceListener__ServerName"));
        Assert.Null(status.EnvironmentValue(manifests, "Status__BounceListener__SessionTimeout"));
        Assert.All(new[] { "ingress", "delivery" }, c =>
            Assert.DoesNotContain(manifests.Deployment(c).EnvironmentNames(manifests), n => n.StartsWith("Status__BounceListener__", StringComparison.Ordinal)));

        var port = Assert.Single(ContainerPorts(status), p => Yaml.Str(p, "name") == "smtp-bounces");
        Assert.Equal("2525", Yaml.Str(port, "containerPort"));
        Assert.Equal("TCP", Yaml.Str(port, "protocol"));
        Assert.All(new[] { "ingress", "delivery" }, c => Assert.Single(ContainerPorts(manifests.Deployment(c))));

        var service = BounceService(manifests);
        Assert.NotNull(service);
        Assert.Equal("LoadBalancer", Yaml.Str(service, "spec.type"));
        var servicePort = Assert.Single(Yaml.List(Yaml.At(service, "spec.ports")));
        Assert.Equal("25", Yaml.Str(servicePort, "port"));
        Assert.Equal("smtp-bounces", Yaml.Str(servicePort, "targetPort"));
        Assert.Equal("TCP", Yaml.Str(servicePort, "protocol"));
        Assert.Equal(Labels(Yaml.At(status, "spec.selector.matchLabels")), Labels(Yaml.At(service, "spec.selector")));
        Assert.Equal("mx.bounce.example.com", Yaml.Key(Yaml.At(service, "metadata.annotations"), "external-dns.alpha.kubernetes.io/hostname"));
        Assert.Equal(["198.51.100.0/24"], Yaml.List(Yaml.At(service, "spec.loadBalancerSourceRanges")));
        Assert.Equal("Local", Yaml.Str(service, "spec.externalTrafficPolicy"));

        // The status service's own Service, the one the ingress and the workers call, is unchanged.
        var http = manifests.OfKind("Service").Single(s => s.Component() == "status");
        Assert.Equal(["http"], Yaml.List(Yaml.At(http, "spec.ports")).Select(p => Yaml.Str(p, "name")));

        var hour = Helm.TemplateWith(BounceListener.Replace("enabled: true", "enabled: true\n    sessionTimeout: '01:00:00'", StringComparison.Ordinal));
        Assert.Equal("01:00:00", hour.Deployment("status").EnvironmentValue(hour, "Status__BounceListener__SessionTimeout"));
    }

    [Theory]
    [InlineData("ClusterIP", false, false)]
    [InlineData("NodePort", true, false)]
    [InlineData("LoadBalancer", true, true)]
    public void TheBounceServiceGetsATrafficPolicyAndSourceRangesOnlyWhereItsTypeTakesThem(string type, bool trafficPolicy, bool sourceRanges)
    {
        var service = BounceService(Helm.TemplateWith(BounceListener + $"\n      type: {type}\n      externalTrafficPolicy: Cluster"));
        Assert.NotNull(service);
        Assert.Equal(type, Yaml.Str(service, "spec.type"));
        Assert.Equal(trafficPolicy ? "Cluster" : null, Yaml.Str(service, "spec.externalTrafficPolicy"));
        Assert.Equal(sourceRanges, Yaml.At(service, "spec.loadBalancerSourceRanges") is not null);
    }

    /// <summary>
    /// The status service refuses to start when its listener has a port but no domains, or a domain that is no host name
    /// with a dot (StatusExtensions): the schema refuses them at install, and the template does too when the schema is
    /// skipped, rather than letting the status pods crash-loop.
    /// </summary>
    [Theory]
    [InlineData("status: { bounceListener: { enabled: true } }",
        "at '/status/bounceListener/domains': minItems", "status.bounceListener.domains is required with status.bounceListener.enabled")]
    [InlineData("status: { bounceListener: { enabled: true, domains: [localhost] } }",
        "at '/status/bounceListener/domains/0'", "status.bounceListener.domains[0] (localhost) is not a host name with a dot")]
    [InlineData("status: { bounceListener: { enabled: true, domains: [bounce.example.com, 192.0.2.1] } }",
        "at '/status/bounceListener/domains/1'", "status.bounceListener.domains[1] (192.0.2.1) is not a host name with a dot")]
    public void ABounceListenerWithoutDomainsOrWithADomainThatIsNoHostNameIsRefused(string values, string schemaMessage, string templateMessage)
    {
        Assert.Contains(schemaMessage, Helm.TemplateRefuses(values), StringComparison.Ordinal);
        Assert.Contains(templateMessage, Helm.TemplateRefuses(values, flags: ["--skip-schema-validation"]), StringComparison.Ordinal);
    }

    /// <summary>
    /// Settings the status service would refuse, or could not listen on, that the schema lets through: the container's
    /// HTTP port, and a session timeout outside 10 seconds to 1 hour.
    /// </summary>
    [Theory]
    [InlineData("port: 8080", "status.bounceListener.port (8080) is the port the status container serves HTTP on")]
    [InlineData("sessionTimeout: '00:00:05'", "status.bounceListener.sessionTimeout (00:00:05) must be between 00:00:10 and 01:00:00")]
    [InlineData("sessionTimeout: '01:00:00.5'", "status.bounceListener.sessionTimeout (01:00:00.5) must be between 00:00:10 and 01:00:00")]
    public void ABounceListenerPortOrSessionTimeoutTheStatusServiceCannotUseIsRefused(string setting, string message)
    {
        Assert.Contains(message, Helm.TemplateRefuses(BounceListener.Replace("enabled: true", $"enabled: true\n    {setting}", StringComparison.Ordinal)),
            StringComparison.Ordinal);
    }

    /// <summary>
    /// A tls.secretName that can name no Secret would leave the status pods waiting for a volume that cannot exist: the
    /// schema refuses it at install (a DNS subdomain: lower case, at most 253 characters), and the template does too when
    /// the schema is skipped.
    /// </summary>
    [Theory]
    [InlineData("MX-Bounce-TLS")]
    [InlineData("mx_bounce_tls")]
    [InlineData("-mx-bounce-tls")]
    [InlineData("mx..bounce-tls")]
    [InlineData("mx-bounce-tls.")]
    public void ABounceListenerTlsSecretNameThatNamesNoSecretIsRefused(string name)
    {
        var values = BounceListener.Replace("enabled: true", $"enabled: true\n    tls: {{ secretName: '{name}' }}", StringComparison.Ordinal);
        Assert.Contains("at '/status/bounceListener/tls/secretName'", Helm.TemplateRefuses(values), StringComparison.Ordinal);
        Assert.Contains($"status.bounceListener.tls.secretName ({name}) is not the name of a Secret",
            Helm.TemplateRefuses(values, flags: ["--skip-schema-validation"]), StringComparison.Ordinal);
    }

    [Fact]
    public void ABounceListenerTlsSecretNameMayHave253Characters()
    {
        static string WithSecret(string name) =>
            BounceListener.Replace("enabled: true", $"enabled: true\n    tls: {{ secretName: {name} }}", StringComparison.Ordinal);

        var longest = string.Join('.', Enumerable.Repeat(new string('a', 63), 4))[..253];
        var manifests = Helm.TemplateWith(WithSecret(longest));
        Assert.Contains(Yaml.List(Yaml.At(manifests.Deployment("status"), "spec.template.spec.volumes")), v => Yaml.Str(v, "secret.secretName") == longest);

        Assert.Contains("maxLength", Helm.TemplateRefuses(WithSecret(longest + "a")), StringComparison.Ordinal);
        Assert.Contains("is not the name of a Secret", Helm.TemplateRefuses(WithSecret(longest + "a"), flags: ["--skip-schema-validation"]), StringComparison.Ordinal);
    }

    private static Dictionary<string, string> Labels(object? node) => Yaml.Entries(node).ToDictionary(e => e.Key, e => (string)e.Value!);

    /// <summary>
    /// The worker refuses to start with a relay's Weight below 1 (DeliveryOptionsValidator): the schema refuses it at
    /// install, rather than letting every worker crash-loop after it. A relay is taken out of rotation by removing it or
    /// giving it a lower Priority.
    /// </summary>
    [Fact]
    public void ARelayWeightOfZeroIsRefusedAsTheWorkerWould()
    {
        Assert.Contains("weight", Helm.TemplateRefuses("delivery: { relays: [ { name: primary, host: smtp.example.net, weight: 0 } ] }"),
            StringComparison.Ordinal);

        var manifests = Helm.TemplateWith("delivery: { relays: [ { name: primary, host: smtp.example.net, weight: 1 } ] }");
        Assert.NotEmpty(manifests.OfKind("Deployment"));
    }

    /// <summary>
    /// The worker's configuration as each example renders it is one the worker starts with (but for the files it mounts
    /// from Secrets, which are not here). The all-on example's SMTP
    /// timeouts made an attempt longer than the 10-minute claim lease, and every worker refused to start (the lease now
    /// grows with the timeouts unless it is set).
    /// </summary>
    [Theory]
    [InlineData("ci/all-on-values.yaml")]
    [InlineData("ci/minimal-values.yaml")]
    [InlineData("ci/keda-values.yaml")]
    public void EachExamplesWorkerConfigurationPassesTheWorkersOwnValidation(string values) =>
        Assert.Empty(WorkerValidationFailures(Helm.Template(values), Yaml.Parse(Repo.Read($"{Helm.Chart}/{values}"))));

    /// <summary>
    /// What the workers' own validation refuses in the delivery ConfigMap rendered from <paramref name="values"/>, with
    /// each relay's username and password from those values, which reach the pods from the Secret, not the ConfigMap.
    /// Certificates and DKIM keys are files the pod mounts from Secrets: their absence here is not counted.
    /// </summary>
    private static List<string> WorkerValidationFailures(List<Dictionary<object, object>> manifests, object? values)
    {
        var data = Yaml.Map(Yaml.At(manifests.OfKind("ConfigMap").Single(c => c.Component() == "delivery"), "data"), "delivery");
        var settings = data.Select(e => KeyValuePair.Create(((string)e.Key).Replace("__", ":", StringComparison.Ordinal), (string?)e.Value)).ToList();
        foreach (var (relay, i) in Yaml.List(Yaml.At(values, "delivery.relays")).Select((r, i) => (r, i)))
        {
            settings.AddRange(new[] { "Username", "Password" }
                .Where(field => !string.IsNullOrEmpty(Yaml.Str(relay, field.ToLowerInvariant())))
                .Select(field => KeyValuePair.Create($"Delivery:Relays:{i}:{field}", Yaml.Str(relay, field.ToLowerInvariant()))));
        }

        var options = new ConfigurationBuilder().AddInMemoryCollection(settings).Build()
            .GetSection(DeliveryOptions.SectionName).Get<DeliveryOptions>()!;
        return (new DeliveryOptionsValidator().Validate(null, options).Failures ?? [])
            .Where(f => !f.Contains("could not be read", StringComparison.Ordinal)).ToList();
    }

    /// <summary>
    /// The workers refuse to start with a relay on port 465 (implicit TLS) whose security is not SslOnConnect, or with a
    /// username whose security is not StartTls or SslOnConnect (Auto, the default, can fall back to plain text)
    /// (DeliveryOptionsValidator). The schema refuses both at install, and the template does too when the schema is
    /// skipped, naming the relay and the fix, rather than letting every worker crash-loop.
    /// </summary>
    [Theory]
    [InlineData("port: 465, security: StartTls", "at '/delivery/relays/1/security': value must be 'SslOnConnect'",
        "delivery.relays[1] (backup): port 465 is implicit TLS, so security must be SslOnConnect (was StartTls): set delivery.relays[1].security=SslOnConnect")]
    [InlineData("port: 465", "at '/delivery/relays/1': missing property 'security'",
        "delivery.relays[1] (backup): port 465 is implicit TLS, so security must be SslOnConnect (was Auto)")]
    [InlineData("port: 587, security: Auto, username: apikey, password: secret", "at '/delivery/relays/1/security': value must be one of 'StartTls', 'SslOnConnect'",
        "delivery.relays[1] (backup): a username needs security StartTls or SslOnConnect (was Auto): set delivery.relays[1].security to one of them")]
    [InlineData("port: 25, security: None, username: apikey, password: secret", "at '/delivery/relays/1/security': value must be one of 'StartTls', 'SslOnConnect'",
        "delivery.relays[1] (backup): a username needs security StartTls or SslOnConnect (was None)")]
    [InlineData("port: 587, username: apikey, password: secret", "at '/delivery/relays/1': missing property 'security'",
        "delivery.relays[1] (backup): a username needs security StartTls or SslOnConnect (was Auto)")]
    public void ARelaySecurityTheWorkersWouldRefuseIsRefusedNamingTheRelay(string settings, string schemaMessage, string templateMessage)
    {
        var values = $"delivery: {{ relays: [ {{ name: primary, host: smtp.example.net, port: 587, security: StartTls }}, {{ name: backup, host: smtp.backup.example.org, {settings} }} ] }}";
        Assert.Contains(schemaMessage, Helm.TemplateRefuses(values), StringComparison.Ordinal);
        Assert.Contains(templateMessage, Helm.TemplateRefuses(values, flags: ["--skip-schema-validation"]), StringComparison.Ordinal);
    }

    /// <summary>What the workers accept the chart renders, and no more strictly: the rules are the validator's.</summary>
    [Theory]
    [InlineData("port: 465, security: SslOnConnect, username: apikey, password: secret", false)]
    [InlineData("port: 587, security: StartTls, username: apikey, password: secret", false)]
    [InlineData("port: 25, security: Auto, username: '', password: ''", false)]
    [InlineData("port: 25, security: None", false)]
    [InlineData("port: 2525, security: SslOnConnect", false)]
    // The workers bind the enum ignoring case; the schema takes its spelling only.
    [InlineData("port: 465, security: sslonconnect, username: apikey, password: secret", true)]
    public void ARelaySecurityTheWorkersAcceptIsRendered(string settings, bool skipSchema)
    {
        var values = $"delivery: {{ relays: [ {{ name: primary, host: smtp.example.net, {settings} }} ] }}";
        var manifests = Helm.TemplateWith(values, skipSchema ? ["--skip-schema-validation"] : []);
        Assert.Empty(WorkerValidationFailures(manifests, Yaml.Parse(values)));
    }

    /// <summary>
    /// With secrets.existingSecret the chart writes no Secret, and the workers read each relay's credentials from that
    /// one (optional keys): a username or password given in the values was dropped without a word, and the workers sent
    /// without AUTH. It is refused, naming the keys to put into the Secret, as a DKIM privateKey is.
    /// </summary>
    [Theory]
    [InlineData("username: apikey, password: secret", "delivery.relays[0] (Primary Relay): username and password cannot go into secrets.existingSecret 'emailplatform-credentials'")]
    [InlineData("password: secret", "delivery.relays[0] (Primary Relay): password cannot go into secrets.existingSecret 'emailplatform-credentials'")]
    public void RelayCredentialsInTheValuesWithAnExistingSecretAreRefusedNamingItsKeys(string credentials, string message)
    {
        var values = $$"""
            secrets: { existingSecret: emailplatform-credentials }
            delivery: { relays: [ { name: Primary Relay, host: smtp.example.net, port: 587, security: StartTls, {{credentials}} } ] }
            """;
        var error = Helm.TemplateRefuses(values);
        Assert.Contains(message, error, StringComparison.Ordinal);
        Assert.Contains("under the keys relay-primary-relay-username and relay-primary-relay-password", error, StringComparison.Ordinal);

        var withoutCredentials = Helm.TemplateWith(values.Replace($", {credentials}", "", StringComparison.Ordinal));
        var username = Yaml.List(Yaml.At(Assert.Single(withoutCredentials.Deployment("delivery").Containers()), "env"))
            .Single(e => Yaml.Str(e, "name") == "Delivery__Relays__0__Username");
        Assert.Equal("relay-primary-relay-username", Yaml.Str(username, "valueFrom.secretKeyRef.key"));
    }

    [Fact]
    public void ConfigMapsTakeExtraConfigurationKeysThatWinOverTheChartsOwn()
    {
        var manifests = Helm.Template("ci/all-on-values.yaml");
        Dictionary<object, object> Data(string component) =>
            Yaml.Map(Yaml.At(manifests.OfKind("ConfigMap").Single(c => c.Component() == component), "data"), component);

        Assert.All(Components, c =>
        {
            Assert.Equal("Information", Data(c)["Logging__LogLevel__Default"]);
            Assert.Equal("json", Data(c)["Logging__Console__FormatterName"]);
        });
        Assert.Equal("200", Data("ingress")["Ingress__Outbox__BatchSize"]);
        Assert.Equal("bounces@bounce.example.com", Data("ingress")["Ingress__ReturnPath"]);
        Assert.Equal("bounce.example.com", Data("status")["Status__BounceListener__Domains__0"]);
        Assert.Equal("2.00:00:00", Data("delivery")["Delivery__MaxRetryAge"]);
        Assert.Equal("1000000", Data("delivery")["Delivery__RetryBatchSize"]);
        Assert.Equal("00:02:00", Data("delivery")["Delivery__CommandTimeout"]);
        Assert.Equal("30.00:00:00", Data("status")["Status__Retention__BodiesAfter"]);
        Assert.DoesNotContain("Delivery__MaxRetryAge", Data("ingress").Keys);
    }

    /// <summary>
    /// A pod using more than its request is the first the kubelet evicts under memory pressure: the status service's
    /// request covers the peak RSS its benchmark reports, with real-sized bodies in the README and with the image's GC
    /// setting in its Dockerfile. It was 256Mi (268 MB) against about 275 MB.
    /// </summary>
    [Fact]
    public void TheStatusServicesMemoryRequestCoversThePeakRssItsBenchmarkReports()
    {
        var readme = Repo.Read("README.md");
        var performance = readme[readme.IndexOf("\n## Performance", StringComparison.Ordinal)..readme.IndexOf("\n## Fault tolerance", StringComparison.Ordinal)];
        var peaks = System.Text.RegularExpressions.Regex.Matches(performance, @"service's\s+peak RSS is about (\d+) MB")
            .Concat(System.Text.RegularExpressions.Regex.Matches(Repo.Read("services/EmailPlatform.Status/Dockerfile"), @"peak RSS unchanged \(\d+-(\d+) MB\)"))
            .Select(m => long.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) * 1_000_000)
            .ToList();
        Assert.Equal(2, peaks.Count);

        var request = Yaml.Str(Assert.Single(Helm.Template(Helm.Minimal).Deployment("status").Containers()), "resources.requests.memory")!;
        Assert.EndsWith("Mi", request, StringComparison.Ordinal);
        var bytes = long.Parse(request[..^2], System.Globalization.CultureInfo.InvariantCulture) * 1024 * 1024;
        Assert.True(bytes >= peaks.Max(), $"status.resources.requests.memory {request} ({bytes / 1_000_000} MB) is below the measured peak RSS of {peaks.Max() / 1_000_000} MB");
    }

    [Fact]
    public void LogsAreJsonByDefault()
    {
        var manifests = Helm.Template(Helm.Minimal);
        Assert.All(manifests.OfKind("ConfigMap").Where(c => c.Component() is not null),
            c => Assert.Equal("json", Yaml.Str(c, "data.Logging__Console__FormatterName")));
    }

    /// <summary>The install notes (which <c>helm template</c> does not render) for a values file, and <c>--set</c> flags.</summary>
    private static string Notes(string valuesFile, params string[] flags)
    {
        var output = Helm.Run(["install", "--dry-run=client", "emailplatform", Helm.Chart, "--namespace", "mail", "-f", $"{Helm.Chart}/{valuesFile}", .. flags]);
        return output[output.IndexOf("NOTES:", StringComparison.Ordinal)..];
    }

    /// <summary>
    /// --reuse-values also keeps the defaults of the chart the release was installed with, so an upgrade to a newer
    /// chart lacks the values it added (the README warns against it); the notes suggest --reset-then-reuse-values.
    /// </summary>
    [Fact]
    public void NotesScaleTheWorkersWithResetThenReuseValues()
    {
        var notes = Notes(Helm.Minimal);
        Assert.Contains("--reset-then-reuse-values --set delivery.replicas=", notes, StringComparison.Ordinal);
        Assert.DoesNotContain("--reuse-values ", notes, StringComparison.Ordinal);
    }

    /// <summary>
    /// helm template cannot read the generated API key back from the Secret and makes a new one at every render: the
    /// notes say to set one when the chart generated it, and say nothing when it was given.
    /// </summary>
    [Fact]
    public void NotesSayToSetTheApiKeyForHelmTemplateWhenTheChartGeneratedIt()
    {
        var generated = Notes(Helm.Minimal);
        Assert.Contains("with helm template (Argo CD, or helm template | kubectl apply)", generated, StringComparison.Ordinal);
        Assert.Contains("set secrets.bootstrapKey, or secrets.existingSecret", generated, StringComparison.Ordinal);

        Assert.DoesNotContain("secrets.bootstrapKey", Notes("ci/keda-values.yaml"), StringComparison.Ordinal);
    }

    [Fact]
    public void NotesNameHowTheWorkersScaleAndWhatMonitoringIsInstalled()
    {
        var keda = Notes("ci/keda-values.yaml");
        Assert.Contains("KEDA on send-email-high, send-email-normal, send-email-bulk", keda, StringComparison.Ordinal);
        Assert.DoesNotContain("Monitoring:", keda, StringComparison.Ordinal);

        var allOn = Notes("ci/all-on-values.yaml");
        Assert.Contains("HPA 2-12 replicas", allOn, StringComparison.Ordinal);
        Assert.Contains("PrometheusRule emailplatform-email-platform", allOn, StringComparison.Ordinal);
        Assert.Contains("ConfigMap emailplatform-email-platform-dashboards", allOn, StringComparison.Ordinal);
    }

    /// <summary>
    /// The bounce listener works only once the MX record of its domains points at its Service and the emails' return path
    /// is in one of them: the notes name the Service, and warn when ingress.returnPath would send the bounces elsewhere.
    /// </summary>
    [Fact]
    public void NotesNameTheBounceListenersServiceAndWarnWhenTheReturnPathIsNotInItsDomains()
    {
        var allOn = Notes("ci/all-on-values.yaml");
        Assert.Contains("bounces   emailplatform-email-platform-status-bounces (SMTP on port 25, LoadBalancer", allOn, StringComparison.Ordinal);
        Assert.Contains("point the MX record of bounce.example.com at the external address of the Service", allOn, StringComparison.Ordinal);
        Assert.Contains("Register an address in one of these domains (e.g. fbl@bounce.example.com) with the\nmailbox providers' feedback loops", allOn, StringComparison.Ordinal);
        Assert.DoesNotContain("WARNING: ingress.returnPath", allOn, StringComparison.Ordinal);

        Assert.DoesNotContain("status-bounces", Notes(Helm.Minimal), StringComparison.Ordinal);

        string[] enabled = ["--set", "status.bounceListener.enabled=true", "--set", "status.bounceListener.domains={bounce.example.com}"];
        Assert.Contains("WARNING: ingress.returnPath is empty", Notes(Helm.Minimal, enabled), StringComparison.Ordinal);
        Assert.Contains("WARNING: ingress.returnPath (bounces@example.com) is in none of status.bounceListener.domains",
            Notes(Helm.Minimal, [.. enabled, "--set", "ingress.returnPath=bounces@example.com"]), StringComparison.Ordinal);
    }

    /// <summary>
    /// Without a certificate the MTAs deliver the bounces in plain text: the notes say so and how to offer STARTTLS, and
    /// with one they name its Secret.
    /// </summary>
    [Fact]
    public void NotesSayWhetherTheBounceListenerOffersStartTls()
    {
        var allOn = Notes("ci/all-on-values.yaml");
        Assert.Contains("STARTTLS is offered, with the certificate in the Secret mx-bounce-example-com-tls.", allOn, StringComparison.Ordinal);
        Assert.DoesNotContain("plain text", allOn, StringComparison.Ordinal);

        var plain = Notes(Helm.Minimal, "--set", "status.bounceListener.enabled=true", "--set", "status.bounceListener.domains={bounce.example.com}",
            "--set", "ingress.returnPath=bounces@bounce.example.com");
        Assert.Contains("The listener offers no STARTTLS, so the MTAs deliver bounces in plain text: to offer it, set\n" +
            "status.bounceListener.tls.secretName to a kubernetes.io/tls Secret in mail.", plain, StringComparison.Ordinal);
        Assert.DoesNotContain("STARTTLS is offered", plain, StringComparison.Ordinal);

        Assert.DoesNotContain("STARTTLS", Notes(Helm.Minimal), StringComparison.Ordinal);
    }

    [Fact]
    public void TheChartsCopiesOfTheRulesAndDashboardMatchDeploy()
    {
        Assert.True(Repo.Read(AlertRulesTests.RulesFile) == Repo.Read($"{Helm.Chart}/files/prometheus/emailplatform.yml"),
            $"copy {AlertRulesTests.RulesFile} to {Helm.Chart}/files/prometheus/emailplatform.yml");
        Assert.True(Repo.Read(DashboardTests.DashboardFile) == Repo.Read($"{Helm.Chart}/files/dashboards/email-platform.json"),
            $"copy {DashboardTests.DashboardFile} to {Helm.Chart}/files/dashboards/email-platform.json");
    }
}
