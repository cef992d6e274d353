using EmailPlatform.Deployment.Tests.Support;

namespace EmailPlatform.Deployment.Tests.Chart;

/// <summary>
/// The NetworkPolicies (networkPolicy.enabled): one per component, selecting its pods and nothing else, letting in only
/// the flows the services use (the ingress's reads and the workers' suppression lookups to the status service, the
/// scrapes) on the port the containers serve them on, and leaving egress open unless it is restricted.
/// </summary>
public sealed class HelmChartNetworkPolicyTests
{
    private static readonly string[] Services = ["ingress", "delivery", "status"];

    private static readonly string[] Policed = [.. Services, "migrations"];

    private const string Enabled = "networkPolicy: { enabled: true }";

    private const string MonitoringPeers = """
        networkPolicy:
          enabled: true
          metrics:
            from:
              - namespaceSelector: { matchLabels: { kubernetes.io/metadata.name: monitoring } }
        """;

    private const string Restricted = """
        networkPolicy:
          enabled: true
          egress:
            restrict: true
            rules:
              - to: [ { namespaceSelector: { matchLabels: { kubernetes.io/metadata.name: data } } } ]
                ports: [ { port: 5432, protocol: TCP }, { port: 5672, protocol: TCP } ]
          delivery:
            egress:
              - to: [ { ipBlock: { cidr: 203.0.113.10/32 } } ]
                ports: [ { port: 587, protocol: TCP } ]
          status:
            egress:
              - to: [ { ipBlock: { cidr: 0.0.0.0/0, except: [ 10.0.0.0/8 ] } } ]
                ports: [ { port: 443, protocol: TCP } ]
        """;

    [Theory]
    [InlineData(Helm.Minimal)]
    [InlineData("ci/keda-values.yaml")]
    public void WithoutNetworkPolicyEnabledNoneIsRendered(string valuesFile) =>
        Assert.Empty(Helm.Template(valuesFile).OfKind("NetworkPolicy"));

    [Fact]
    public void EachComponentGetsOnePolicySelectingExactlyItsOwnPods()
    {
        var manifests = Helm.TemplateWith(Enabled);
        var policies = manifests.OfKind("NetworkPolicy").ToList();
        Assert.Equal(Policed.Order(), policies.Select(p => p.Component()).Order());

        var pods = PodLabels(manifests);
        Assert.Equal(Policed.Order(), pods.Keys.Order());
        foreach (var policy in policies)
        {
            Assert.Null(Yaml.At(policy, "spec.podSelector.matchExpressions"));
            var selector = Labels(Yaml.At(policy, "spec.podSelector.matchLabels"));
            Assert.Equal(pods[policy.Component()!], selector);
            Assert.All(pods.Where(p => p.Key != policy.Component()), other =>
                Assert.False(Selects(selector, other.Value), $"{policy.Name()} also selects the {other.Key} pods"));
        }

        var withoutMigrations = Helm.TemplateWith(Enabled + "\nmigrations: { enabled: false }").OfKind("NetworkPolicy");
        Assert.Equal(Services.Order(), withoutMigrations.Select(p => p.Component()).Order());
    }

    /// <summary>
    /// Policies see a connection after the Service has translated its address to a pod's: they must admit the
    /// containers' port, whatever port the Service listens on. A rule on the Service's port would let nothing through
    /// once the two differ.
    /// </summary>
    [Fact]
    public void ThePortsThePoliciesNameAreTheOnesTheContainersServeAndTheServicesTarget()
    {
        var manifests = Helm.TemplateWith(Restricted + """

              metrics:
                from: [ { namespaceSelector: { matchLabels: { kubernetes.io/metadata.name: monitoring } } } ]
            ingress: { service: { port: 80 } }
            status: { service: { port: 9090 } }
            """);
        foreach (var component in Services)
        {
            var containerPorts = Yaml.List(Yaml.At(Assert.Single(manifests.Deployment(component).Containers()), "ports"));
            var servicePort = Assert.Single(Yaml.List(Yaml.At(manifests.OfKind("Service").Single(s => s.Component() == component), "spec.ports")));
            var ports = IngressRules(Policy(manifests, component)).SelectMany(r => Yaml.List(Yaml.At(r, "ports"))).ToList();
            Assert.NotEmpty(ports);
            Assert.All(ports, port =>
            {
                var name = Yaml.Str(port, "port");
                Assert.Equal("TCP", Yaml.Str(port, "protocol"));
                Assert.Contains(containerPorts, p => Yaml.Str(p, "name") == name && Yaml.Str(p, "protocol") == "TCP");
                Assert.Equal(name, Yaml.Str(servicePort, "targetPort"));
            });
        }

        var statusContainerPort = Yaml.Str(Yaml.List(Yaml.At(Assert.Single(manifests.Deployment("status").Containers()), "ports")).Single(), "containerPort");
        foreach (var caller in new[] { "ingress", "delivery" })
        {
            var toStatus = EgressRules(Policy(manifests, caller)).Single(r => Yaml.List(Yaml.At(r, "to")).Any(p => Selects(PeerLabels(p), PodLabels(manifests)["status"])));
            var port = Assert.Single(Yaml.List(Yaml.At(toStatus, "ports")));
            Assert.Equal(statusContainerPort, Yaml.Str(port, "port"));
            Assert.Equal("TCP", Yaml.Str(port, "protocol"));
        }
    }

    /// <summary>
    /// The components the chart points at the status service (Ingress:StatusUrl for the forwarded reads,
    /// Delivery:StatusUrl for the suppression lookups) are the ones its policy lets in, and nothing else is by default.
    /// </summary>
    [Fact]
    public void TheStatusServiceAdmitsThePodsThatCallItAndTheConfiguredPeersOnly()
    {
        var manifests = Helm.TemplateWith(Enabled);
        var statusService = manifests.OfKind("Service").Single(s => s.Component() == "status").Name();
        var callers = Services.Where(c => manifests.Deployment(c).EnvironmentNames(manifests)
                .Where(n => n.EndsWith("__StatusUrl", StringComparison.Ordinal))
                .Any(n => new Uri(manifests.Deployment(c).EnvironmentValue(manifests, n)!).Host == statusService))
            .ToList();
        Assert.Equal(["ingress", "delivery"], callers);

        var pods = PodLabels(manifests);
        var rule = Assert.Single(IngressRules(Policy(manifests, "status")));
        var peers = Yaml.List(Yaml.At(rule, "from"));
        Assert.Equal(callers.Order(), pods.Where(p => peers.Any(peer => Selects(PeerLabels(peer), p.Value))).Select(p => p.Key).Order());
        Assert.All(peers, peer => Assert.Null(Yaml.At(peer, "namespaceSelector")));

        var extra = Helm.TemplateWith("""
            networkPolicy:
              enabled: true
              status:
                from: [ { namespaceSelector: { matchLabels: { kubernetes.io/metadata.name: support } }, podSelector: { matchLabels: { app: admin } } } ]
            """);
        var extraPeers = Yaml.List(Yaml.At(Assert.Single(IngressRules(Policy(extra, "status"))), "from"));
        Assert.Equal(3, extraPeers.Count);
        Assert.Equal("support", Yaml.Key(Yaml.At(extraPeers[2], "namespaceSelector.matchLabels"), "kubernetes.io/metadata.name"));
        Assert.Equal("admin", Yaml.Str(extraPeers[2], "podSelector.matchLabels.app"));
    }

    [Fact]
    public void TheApiIsOpenToAnySourceUnlessPeersAreNamedAndNothingElseIsLetIn()
    {
        var open = Helm.TemplateWith(Enabled);
        var rule = Assert.Single(IngressRules(Policy(open, "ingress")));
        Assert.Null(Yaml.At(rule, "from"));
        Assert.Equal("http", Yaml.Str(Assert.Single(Yaml.List(Yaml.At(rule, "ports"))), "port"));
        Assert.Empty(IngressRules(Policy(open, "delivery")));
        Assert.Empty(IngressRules(Policy(open, "migrations")));
        Assert.All(open.OfKind("NetworkPolicy"), p => Assert.Contains("Ingress", PolicyTypes(p)));

        var narrowed = Helm.TemplateWith("""
            networkPolicy:
              enabled: true
              ingress:
                from: [ { namespaceSelector: { matchLabels: { kubernetes.io/metadata.name: ingress-nginx } } } ]
            """);
        var peer = Assert.Single(Yaml.List(Yaml.At(Assert.Single(IngressRules(Policy(narrowed, "ingress"))), "from")));
        Assert.Equal("ingress-nginx", Yaml.Key(Yaml.At(peer, "namespaceSelector.matchLabels"), "kubernetes.io/metadata.name"));
    }

    private const string BounceListener = """
        status:
          bounceListener: { enabled: true, domains: [bounce.example.com] }
        """;

    /// <summary>
    /// The MTAs that send bounces are anywhere on the internet: with the bounce listener on, the status pods take its
    /// port (the one the container names and the bounce Service targets) from any source, or only from
    /// networkPolicy.status.bounceListener.from, while their http port still admits only the ingress and the workers.
    /// </summary>
    [Fact]
    public void TheBounceListenerIsOpenToAnySourceOnItsPortUnlessPeersAreNamed()
    {
        var open = Helm.TemplateWith(Enabled + "\n" + BounceListener);
        var rules = IngressRules(Policy(open, "status"));
        Assert.Equal(2, rules.Count);
        var bounces = Assert.Single(rules, r => Yaml.At(r, "from") is null);
        var port = Assert.Single(Yaml.List(Yaml.At(bounces, "ports")));
        Assert.Equal("smtp-bounces", Yaml.Str(port, "port"));
        Assert.Equal("TCP", Yaml.Str(port, "protocol"));
        Assert.Contains(Yaml.List(Yaml.At(Assert.Single(open.Deployment("status").Containers()), "ports")),
            p => Yaml.Str(p, "name") == "smtp-bounces" && Yaml.Str(p, "protocol") == "TCP");
        var service = open.OfKind("Service").Single(s => s.Name().EndsWith("-status-bounces", StringComparison.Ordinal));
        Assert.Equal("smtp-bounces", Yaml.Str(Assert.Single(Yaml.List(Yaml.At(service, "spec.ports"))), "targetPort"));
        var http = Assert.Single(rules, r => Yaml.At(r, "from") is not null);
        Assert.Equal("http", Yaml.Str(Assert.Single(Yaml.List(Yaml.At(http, "ports"))), "port"));
        Assert.Equal(2, Yaml.List(Yaml.At(http, "from")).Count);
        Assert.All(new[] { "ingress", "delivery" }, c =>
            Assert.DoesNotContain(IngressRules(Policy(open, c)).SelectMany(r => Yaml.List(Yaml.At(r, "ports"))), p => Yaml.Str(p, "port") == "smtp-bounces"));

        var narrowed = Helm.TemplateWith(BounceListener + "\n" + """
            networkPolicy:
              enabled: true
              status:
                bounceListener:
                  from: [ { ipBlock: { cidr: 198.51.100.0/24 } } ]
            """);
        var rule = Assert.Single(IngressRules(Policy(narrowed, "status")), r => Yaml.List(Yaml.At(r, "ports")).Any(p => Yaml.Str(p, "port") == "smtp-bounces"));
        Assert.Equal("198.51.100.0/24", Yaml.Str(Assert.Single(Yaml.List(Yaml.At(rule, "from"))), "ipBlock.cidr"));
    }

    /// <summary>
    /// Prometheus scrapes /metrics on the port the ServiceMonitor names, the Services' http, which targets the
    /// containers' http: the monitoring peers are let in there on every service, and the migrations Job serves nothing.
    /// </summary>
    [Fact]
    public void MonitoringPeersReachTheMetricsPortOfEveryService()
    {
        var manifests = Helm.TemplateWith(MonitoringPeers + "\nmonitoring: { serviceMonitor: { enabled: true } }");
        var scraped = Yaml.Str(Assert.Single(Yaml.List(Yaml.At(manifests.OfKind("ServiceMonitor").Single(), "spec.endpoints"))), "port");
        foreach (var component in Services)
        {
            var servicePort = Yaml.List(Yaml.At(manifests.OfKind("Service").Single(s => s.Component() == component), "spec.ports"))
                .Single(p => Yaml.Str(p, "name") == scraped);
            var fromMonitoring = IngressRules(Policy(manifests, component)).Where(r => Yaml.List(Yaml.At(r, "from"))
                .Any(p => Yaml.Key(Yaml.At(p, "namespaceSelector.matchLabels"), "kubernetes.io/metadata.name") == "monitoring")).ToList();
            var rule = Assert.Single(fromMonitoring);
            Assert.Single(Yaml.List(Yaml.At(rule, "from")));
            Assert.Equal(Yaml.Str(servicePort, "targetPort"), Yaml.Str(Assert.Single(Yaml.List(Yaml.At(rule, "ports"))), "port"));
        }

        Assert.Single(IngressRules(Policy(manifests, "delivery")));
        Assert.Empty(IngressRules(Policy(manifests, "migrations")));
    }

    /// <summary>
    /// The migrations Job is a pre-install and pre-upgrade hook. Were its policy an ordinary release object, Helm would
    /// create it only after the Job on the first install (in a namespace whose default policy denies egress the Job
    /// would reach neither DNS nor PostgreSQL) and update it only after the Job on an upgrade: it is a hook of the same
    /// events, created before the Job and replaced at each run.
    /// </summary>
    [Fact]
    public void TheMigrationsJobsPolicyIsAHookCreatedBeforeTheJob()
    {
        var manifests = Helm.TemplateWith(Restricted);
        var job = Assert.Single(manifests.OfKind("Job"));
        var policy = Yaml.At(Policy(manifests, "migrations"), "metadata.annotations");

        Assert.Equal("pre-install,pre-upgrade", Yaml.Key(Yaml.At(job, "metadata.annotations"), "helm.sh/hook"));
        Assert.Equal("pre-install,pre-upgrade", Yaml.Key(policy, "helm.sh/hook"));
        var policyWeight = HookWeight(policy);
        var jobWeight = HookWeight(Yaml.At(job, "metadata.annotations"));
        Assert.True(policyWeight < jobWeight, $"the policy's hook weight {policyWeight} is not below the Job's {jobWeight}");
        Assert.Contains("before-hook-creation", Yaml.Key(policy, "helm.sh/hook-delete-policy")!.Split(','));

        Assert.All(Services, component => Assert.Null(Yaml.At(Policy(manifests, component), "metadata.annotations")));
    }

    private static int HookWeight(object? annotations) =>
        int.Parse(Yaml.Key(annotations, "helm.sh/hook-weight") ?? "0", System.Globalization.CultureInfo.InvariantCulture);

    [Fact]
    public void AServiceMonitorWithNoMonitoringPeersToScrapeFromIsRefused()
    {
        var error = Helm.TemplateRefuses(Enabled + "\nmonitoring: { serviceMonitor: { enabled: true } }");
        Assert.Contains("monitoring.serviceMonitor.enabled with networkPolicy.enabled needs networkPolicy.metrics.from", error, StringComparison.Ordinal);
    }

    /// <summary>
    /// Webhooks go to URLs the API is given and relays live outside the cluster: unless restricted, the policies leave
    /// egress alone (an Ingress-only policy does not isolate a pod's egress).
    /// </summary>
    [Fact]
    public void EgressIsOpenByDefault()
    {
        Assert.All(Helm.TemplateWith(MonitoringPeers).OfKind("NetworkPolicy"), policy =>
        {
            Assert.Equal(["Ingress"], PolicyTypes(policy));
            Assert.Null(Yaml.At(policy, "spec.egress"));
        });
    }

    [Fact]
    public void RestrictedEgressAllowsDnsTheStatusServiceAndTheGivenRulesOnly()
    {
        var manifests = Helm.TemplateWith(Restricted);
        var status = PodLabels(manifests)["status"];
        foreach (var component in Policed)
        {
            var policy = Policy(manifests, component);
            Assert.Equal(["Ingress", "Egress"], PolicyTypes(policy));
            var rules = EgressRules(policy);

            var dns = rules[0];
            Assert.Null(Yaml.At(dns, "to"));
            Assert.Equal(["53/UDP", "53/TCP"], Yaml.List(Yaml.At(dns, "ports")).Select(p => $"{Yaml.Str(p, "port")}/{Yaml.Str(p, "protocol")}"));

            var callsStatus = component is "ingress" or "delivery";
            Assert.Equal(callsStatus ? 1 : 0, rules.Count(r => Yaml.List(Yaml.At(r, "to")).Any(p => Selects(PeerLabels(p), status))));

            var cidrs = rules.SelectMany(r => Yaml.List(Yaml.At(r, "to"))).Select(p => Yaml.Str(p, "ipBlock.cidr")).OfType<string>().ToList();
            string[] own = component switch { "delivery" => ["203.0.113.10/32"], "status" => ["0.0.0.0/0"], _ => [] };
            Assert.Equal(own, cidrs);
            Assert.Single(rules, r => Yaml.List(Yaml.At(r, "ports")).Any(p => Yaml.Str(p, "port") == "5432"));
            Assert.Equal(2 + (callsStatus ? 1 : 0) + own.Length, rules.Count);
        }

        var clusterDns = Helm.TemplateWith("""
            networkPolicy:
              enabled: true
              egress:
                restrict: true
                dns:
                  to: [ { namespaceSelector: { matchLabels: { kubernetes.io/metadata.name: kube-system } }, podSelector: { matchLabels: { k8s-app: kube-dns } } } ]
                rules: [ { ports: [ { port: 5432, protocol: TCP } ] } ]
            """);
        Assert.All(clusterDns.OfKind("NetworkPolicy"), policy =>
        {
            var dns = EgressRules(policy)[0];
            Assert.Equal("kube-dns", Yaml.Str(Assert.Single(Yaml.List(Yaml.At(dns, "to"))), "podSelector.matchLabels.k8s-app"));
            Assert.Equal(2, Yaml.List(Yaml.At(dns, "ports")).Count);
        });
    }

    /// <summary>Every component needs PostgreSQL and RabbitMQ (the migrations Job declares the status service's queues): restricted egress with no rule for one would cut it off.</summary>
    [Theory]
    [InlineData("networkPolicy: { enabled: true, egress: { restrict: true } }", "nothing would let the ingress pods reach PostgreSQL and RabbitMQ")]
    [InlineData("""
        networkPolicy:
          enabled: true
          egress: { restrict: true }
          ingress: { egress: [ { ports: [ { port: 5432 } ] } ] }
          delivery: { egress: [ { ports: [ { port: 5432 } ] } ] }
          status: { egress: [ { ports: [ { port: 5432 } ] } ] }
        """, "nothing would let the migrations pods reach PostgreSQL and RabbitMQ. Add rules for them to networkPolicy.egress.rules (every component) or networkPolicy.migrations.egress")]
    public void RestrictedEgressWithNoRuleForAComponentIsRefused(string values, string message) =>
        Assert.Contains(message, Helm.TemplateRefuses(values), StringComparison.Ordinal);

    /// <summary>A misspelt key would silently leave the pods open, or a peer empty: the schema refuses them.</summary>
    [Theory]
    [InlineData("networkPolicy: { enabled: 'yes' }", "at '/networkPolicy/enabled': got string, want boolean")]
    [InlineData("networkPolicy: { enable: true }", "at '/networkPolicy': additional properties 'enable' not allowed")]
    [InlineData("networkPolicy: { enabled: true, metrics: { from: [ { namespaceSelectors: { matchLabels: { name: monitoring } } } ] } }", "at '/networkPolicy/metrics/from/0': additional properties 'namespaceSelectors' not allowed")]
    [InlineData("networkPolicy: { enabled: true, status: { from: [ {} ] } }", "at '/networkPolicy/status/from/0': minProperties")]
    [InlineData("networkPolicy: { enabled: true, egress: { restrict: true, rules: [ { to: [ { ipBlock: { cidr: 10.0.0.0 } } ] } ] } }", "at '/networkPolicy/egress/rules/0/to/0/ipBlock/cidr'")]
    [InlineData("networkPolicy: { enabled: true, egress: { restrict: true, rules: [ { ports: [ { port: 5432, protocol: tcp } ] } ] } }", "at '/networkPolicy/egress/rules/0/ports/0/protocol'")]
    public void ABadNetworkPolicyValueIsRefusedByTheSchema(string values, string message) =>
        Assert.Contains(message, Helm.TemplateRefuses(values), StringComparison.Ordinal);

    private static Dictionary<object, object> Policy(List<Dictionary<object, object>> manifests, string component) =>
        manifests.OfKind("NetworkPolicy").Single(p => p.Component() == component);

    private static List<object> IngressRules(Dictionary<object, object> policy) => Yaml.List(Yaml.At(policy, "spec.ingress"));

    private static List<object> EgressRules(Dictionary<object, object> policy) => Yaml.List(Yaml.At(policy, "spec.egress"));

    private static List<string> PolicyTypes(Dictionary<object, object> policy) =>
        [.. Yaml.List(Yaml.At(policy, "spec.policyTypes")).Cast<string>()];

    /// <summary>The labels of each component's pods: the Deployments' and the migrations Job's pod templates.</summary>
    private static Dictionary<string, Dictionary<string, string>> PodLabels(List<Dictionary<object, object>> manifests) =>
        manifests.OfKind("Deployment").Concat(manifests.OfKind("Job"))
            .ToDictionary(w => w.Component()!, w => Labels(Yaml.At(w, "spec.template.metadata.labels")));

    private static Dictionary<string, string> Labels(object? node) =>
        Yaml.Entries(node).ToDictionary(e => e.Key, e => (string)e.Value!);

    /// <summary>A peer's pod selector in the policy's own namespace (no namespaceSelector, no ipBlock), or null.</summary>
    private static Dictionary<string, string>? PeerLabels(object peer) =>
        Yaml.At(peer, "namespaceSelector") is null && Yaml.At(peer, "ipBlock") is null && Yaml.At(peer, "podSelector") is { } selector
            ? Labels(Yaml.At(selector, "matchLabels"))
            : null;

    private static bool Selects(Dictionary<string, string>? selector, Dictionary<string, string> labels) =>
        selector is not null && selector.All(l => labels.TryGetValue(l.Key, out var value) && value == l.Value);
}
