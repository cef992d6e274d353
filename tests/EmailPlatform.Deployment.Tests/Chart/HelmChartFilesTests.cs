using EmailPlatform.Deployment.Tests.Support;

namespace EmailPlatform.Deployment.Tests.Chart;

/// <summary>
/// What the pods read as files: the workers' DKIM private keys and relays' trusted certificates and the bounce listener's
/// certificate mounted from Secrets, and the operator's own volumes. A private key reaches the pod only through a Secret,
/// never through a ConfigMap.
/// </summary>
public sealed class HelmChartFilesTests
{
    // A placeholder, not a key: the chart passes the PEM through without reading it.
    private const string PrivateKey = "-----BEGIN PRIVATE KEY-----\nplaceholder-dkim-key-body\n-----END PRIVATE KEY-----\n";

    private const string OwnSecret = """
        secrets:
          bootstrapKey: ep_0123456789abcdef0123456789abcdef
          postgresConnectionString: Host=postgres;Username=emailplatform;Password=secret;Database=emailplatform
          rabbitMqConnectionString: amqp://emailplatform:secret@rabbitmq:5672/

        """;

    private static string InlineDkimKey(string body) => OwnSecret + $"""
        delivery:
          dkim:
            - domain: example.com
              selector: mail2025
              privateKey: "{body.Replace("\n", "\\n", StringComparison.Ordinal)}"
        """;

    [Fact]
    public void AnInlineDkimKeyGoesIntoTheChartsSecretAndReachesTheWorkerAsAMountedFile()
    {
        var manifests = Helm.TemplateWith(InlineDkimKey(PrivateKey));
        var secret = manifests.OfKind("Secret").Single(s => Yaml.At(s, "metadata.annotations") is null);
        Assert.Equal(PrivateKey, Yaml.Key(Yaml.At(secret, "stringData"), "dkim-example.com-private-key"));

        var data = ConfigData(manifests, "delivery");
        Assert.Equal("example.com", data["Delivery__Dkim__0__Domain"]);
        Assert.Equal("mail2025", data["Delivery__Dkim__0__Selector"]);
        var file = (string)data["Delivery__Dkim__0__PrivateKeyFile"];
        AssertMountedFromSecret(manifests.Deployment("delivery"), file, secret.Name(), "dkim-example.com-private-key");

        Assert.All(manifests.OfKind("ConfigMap"), configMap => Assert.All(Yaml.Entries(Yaml.At(configMap, "data")),
            entry => Assert.DoesNotContain("PRIVATE KEY", entry.Value as string ?? "", StringComparison.Ordinal)));
    }

    [Fact]
    public void RotatingAnInlineDkimKeyRollsTheWorkers()
    {
        string Checksum(string body) =>
            Yaml.Str(Helm.TemplateWith(InlineDkimKey(body)).Deployment("delivery"), "spec.template.metadata.annotations.checksum/secret")!;

        Assert.NotEqual(Checksum(PrivateKey), Checksum(PrivateKey.Replace("placeholder", "rotated", StringComparison.Ordinal)));
    }

    [Fact]
    public void ADkimKeyFromASecretTheOperatorManagesIsMountedAndNotCopiedIntoTheChartsSecret()
    {
        var manifests = Helm.TemplateWith(OwnSecret + """
            delivery:
              dkim:
                - domain: example.com
                  selector: mail2025
                  privateKeySecret:
                    name: dkim-example-com
                    key: private.key
            """);

        var secret = manifests.OfKind("Secret").Single(s => Yaml.At(s, "metadata.annotations") is null);
        Assert.DoesNotContain(Yaml.Entries(Yaml.At(secret, "stringData")), e => e.Key.StartsWith("dkim-", StringComparison.Ordinal));

        var data = ConfigData(manifests, "delivery");
        Assert.Equal("example.com", data["Delivery__Dkim__0__Domain"]);
        Assert.DoesNotContain("Delivery__Dkim__0__PrivateKey", data.Keys);
        AssertMountedFromSecret(manifests.Deployment("delivery"), (string)data["Delivery__Dkim__0__PrivateKeyFile"], "dkim-example-com", "private.key");
    }

    [Fact]
    public void WithAnExistingSecretADkimKeyIsReadFromItUnderItsDomain()
    {
        var manifests = Helm.Template("ci/all-on-values.yaml");
        var data = ConfigData(manifests, "delivery");
        Assert.Equal("example.com", data["Delivery__Dkim__0__Domain"]);
        AssertMountedFromSecret(manifests.Deployment("delivery"), (string)data["Delivery__Dkim__0__PrivateKeyFile"],
            "emailplatform-credentials", "dkim-example.com-private-key");
    }

    [Fact]
    public void ARelaysTrustedCertificateFromASecretIsMountedAsTheFileTheWorkerReads()
    {
        var manifests = Helm.Template("ci/all-on-values.yaml");
        var data = ConfigData(manifests, "delivery");
        Assert.DoesNotContain("Delivery__Relays__0__TrustedCertificate", data.Keys);
        AssertMountedFromSecret(manifests.Deployment("delivery"), (string)data["Delivery__Relays__0__TrustedCertificateFile"], "relay-ca", "ca.crt");
    }

    [Theory]
    [InlineData("""
        delivery:
          relays:
            - name: primary
              host: smtp.example.net
              trustedCertificate: "-----BEGIN CERTIFICATE-----"
              trustedCertificateSecret: { name: relay-ca, key: ca.crt }
        """, "delivery.relays[0] (primary): set at most one of trustedCertificate, trustedCertificateSecret and trustedCertificateFile")]
    [InlineData("""
        delivery:
          relays:
            - name: primary
              host: smtp.example.net
              security: None
              trustedCertificateSecret: { name: relay-ca, key: ca.crt }
        """, "delivery.relays[0] (primary): trustedCertificateSecret is set but security is None")]
    [InlineData("""
        delivery:
          dkim:
            - domain: example.com
              selector: mail2025
              privateKey: "-----BEGIN PRIVATE KEY-----"
              privateKeySecret: { name: dkim-example-com, key: private.key }
        """, "delivery.dkim[0] (example.com): set at most one of privateKey, privateKeySecret and privateKeyFile")]
    [InlineData("""
        delivery:
          dkim:
            - domain: example.com
              selector: mail2025
        """, "delivery.dkim[0] (example.com): the private key is missing")]
    [InlineData("""
        secrets:
          existingSecret: emailplatform-credentials
        delivery:
          dkim:
            - domain: example.com
              selector: mail2025
              privateKey: "-----BEGIN PRIVATE KEY-----"
        """, "put the PEM there under the key dkim-example.com-private-key")]
    [InlineData("""
        delivery:
          dkim:
            - domain: example.com
              selector: mail2025
              privateKeyFile: /keys/a.pem
            - domain: Example.com
              selector: mail2026
              privateKeyFile: /keys/b.pem
        """, "delivery.dkim[1]: the domain Example.com already has a key (delivery.dkim[0]): one key per domain.")]
    public void AKeyOrCertificateTheWorkersWouldRefuseIsRefusedAtRenderingWithTheValueNamed(string values, string message) =>
        Assert.Contains(message, Helm.TemplateRefuses(values), StringComparison.Ordinal);

    private const string BounceListenerTls = """
        status:
          bounceListener:
            enabled: true
            domains: [bounce.example.com]
            tls: { secretName: mx-bounce-example-com-tls }
        """;

    /// <summary>
    /// The listener re-reads its certificate and key when they change, so that a renewed certificate (cert-manager) serves
    /// the next session: the kubernetes.io/tls Secret is mounted as a whole volume, which the kubelet updates, not through
    /// subPath mounts, which never see a renewal; and the listener's two keys point at its tls.crt and tls.key there.
    /// </summary>
    [Fact]
    public void ABounceListenerTlsSecretIsMountedWholeWhereTheListenerReadsItsCertificateAndKey()
    {
        var manifests = Helm.TemplateWith(BounceListenerTls);
        var data = ConfigData(manifests, "status");
        var certificate = (string)data["Status__BounceListener__CertificatePath"];
        var key = (string)data["Status__BounceListener__CertificateKeyPath"];
        var directory = certificate[..certificate.LastIndexOf('/')];
        Assert.StartsWith("/", directory, StringComparison.Ordinal);
        Assert.Equal($"{directory}/tls.crt", certificate);
        Assert.Equal($"{directory}/tls.key", key);

        var status = manifests.Deployment("status");
        var mounts = Yaml.List(Yaml.At(Assert.Single(status.Containers()), "volumeMounts"));
        Assert.All(mounts, m => Assert.Null(Yaml.Str(m, "subPath")));
        var mount = Assert.Single(mounts, m => Yaml.Str(m, "mountPath") == directory);
        Assert.Equal("true", Yaml.Str(mount, "readOnly"));

        var volume = Assert.Single(Volumes(status), v => Yaml.Str(v, "name") == Yaml.Str(mount, "name"));
        Assert.Equal("mx-bounce-example-com-tls", Yaml.Str(volume, "secret.secretName"));
        Assert.Null(Yaml.At(volume, "secret.optional"));
        Assert.Equal("0440", Yaml.Str(volume, "secret.defaultMode"));
        Assert.Equal([("tls.crt", "tls.crt"), ("tls.key", "tls.key")],
            Yaml.List(Yaml.At(volume, "secret.items")).Select(i => (Yaml.Str(i, "key"), Yaml.Str(i, "path"))));
        Assert.NotNull(Yaml.Str(status, "spec.template.spec.securityContext.fsGroup"));

        Assert.All(new[] { "ingress", "delivery" }, component =>
        {
            var deployment = manifests.Deployment(component);
            Assert.DoesNotContain(Volumes(deployment), v => Yaml.Str(v, "secret.secretName") == "mx-bounce-example-com-tls");
            Assert.DoesNotContain(deployment.EnvironmentNames(manifests), n => n.StartsWith("Status__BounceListener__", StringComparison.Ordinal));
        });
    }

    [Theory]
    [InlineData("status: { bounceListener: { enabled: true, domains: [bounce.example.com] } }")]
    [InlineData("status: { bounceListener: { enabled: true, domains: [bounce.example.com], tls: { secretName: '' } } }")]
    [InlineData("status: { bounceListener: { enabled: false, tls: { secretName: mx-bounce-example-com-tls } } }")]
    public void WithoutATlsSecretOrWithoutTheListenerTheStatusPodsMountNoCertificate(string values)
    {
        var manifests = Helm.TemplateWith(values);
        var status = manifests.Deployment("status");
        Assert.DoesNotContain(status.EnvironmentNames(manifests), n => n.StartsWith("Status__BounceListener__Certificate", StringComparison.Ordinal));
        Assert.Equal(["tmp"], Volumes(status).Select(v => Yaml.Str(v, "name")));
        Assert.Equal(["/tmp"], Yaml.List(Yaml.At(Assert.Single(status.Containers()), "volumeMounts")).Select(m => Yaml.Str(m, "mountPath")));
    }

    [Fact]
    public void ExtraVolumesAndMountsReachEveryComponent()
    {
        var manifests = Helm.TemplateWith("""
            ingress:
              extraVolumes: [{ name: extra-ingress, emptyDir: {} }]
              extraVolumeMounts: [{ name: extra-ingress, mountPath: /extra }]
            delivery:
              extraVolumes: [{ name: extra-delivery, configMap: { name: relay-ca-bundle } }]
              extraVolumeMounts: [{ name: extra-delivery, mountPath: /extra, readOnly: true }]
            status:
              extraVolumes: [{ name: extra-status, emptyDir: {} }]
              extraVolumeMounts: [{ name: extra-status, mountPath: /extra }]
            """);

        Assert.All(new[] { "ingress", "delivery", "status" }, component =>
        {
            var deployment = manifests.Deployment(component);
            Assert.Contains(Volumes(deployment), v => Yaml.Str(v, "name") == $"extra-{component}");
            Assert.Contains(Yaml.List(Yaml.At(Assert.Single(deployment.Containers()), "volumeMounts")),
                m => Yaml.Str(m, "name") == $"extra-{component}" && Yaml.Str(m, "mountPath") == "/extra");
        });
        Assert.Equal("relay-ca-bundle", Yaml.Str(Volumes(manifests.Deployment("delivery")).Single(v => Yaml.Str(v, "name") == "extra-delivery"), "configMap.name"));
    }

    private static Dictionary<object, object> ConfigData(List<Dictionary<object, object>> manifests, string component) =>
        Yaml.Map(Yaml.At(manifests.OfKind("ConfigMap").Single(c => c.Component() == component), "data"), component);

    private static List<object> Volumes(Dictionary<object, object> deployment) => Yaml.List(Yaml.At(deployment, "spec.template.spec.volumes"));

    /// <summary>
    /// The file is a read-only mount of one key of the Secret, readable by the pod's fsGroup (the container runs as
    /// that group's non-root user; the files belong to root).
    /// </summary>
    private static void AssertMountedFromSecret(Dictionary<object, object> deployment, string file, string secretName, string key)
    {
        var directory = file[..file.LastIndexOf('/')];
        var mount = Assert.Single(Yaml.List(Yaml.At(Assert.Single(deployment.Containers()), "volumeMounts")), m => Yaml.Str(m, "mountPath") == directory);
        Assert.Equal("true", Yaml.Str(mount, "readOnly"));

        var volume = Assert.Single(Volumes(deployment), v => Yaml.Str(v, "name") == Yaml.Str(mount, "name"));
        Assert.Equal(secretName, Yaml.Str(volume, "secret.secretName"));
        Assert.Equal("0440", Yaml.Str(volume, "secret.defaultMode"));
        var item = Assert.Single(Yaml.List(Yaml.At(volume, "secret.items")));
        Assert.Equal(key, Yaml.Str(item, "key"));
        Assert.Equal(file[(directory.Length + 1)..], Yaml.Str(item, "path"));
        Assert.NotNull(Yaml.Str(deployment, "spec.template.spec.securityContext.fsGroup"));
    }
}
