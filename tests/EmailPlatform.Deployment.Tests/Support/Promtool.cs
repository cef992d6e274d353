using System.Diagnostics;

namespace EmailPlatform.Deployment.Tests.Support;

/// <summary>
/// Prometheus's <c>promtool</c>: <c>$PROMTOOL</c>, else the copy <c>./build.sh</c> installs into
/// artifacts/tools/promtool, else the one on PATH. Like helm, the tests fail rather than skip without it.
/// </summary>
internal static class Promtool
{
    public const string HowToGetIt =
        "promtool not found: run ./build.sh infra-up (it extracts usr/bin/promtool from Debian's prometheus package " +
        "into artifacts/tools/promtool: apt-get download prometheus, then dpkg-deb --fsys-tarfile | tar -x ./usr/bin/promtool), " +
        "or set PROMTOOL=/path/to/promtool.";

    private static readonly Lazy<string?> Binary = new(Find);

    public static string Path => Binary.Value ?? throw new Xunit.Sdk.XunitException(HowToGetIt);

    /// <summary>Runs promtool in the repository root; returns its combined output, or fails the test with it.</summary>
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

        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        var output = stdout + stderr.Result;
        Assert.True(process.ExitCode == 0, $"promtool {string.Join(' ', args)} exited with {process.ExitCode}:\n{output}");
        return output;
    }

    private static string? Find()
    {
        var candidates = new List<string?>
        {
            Environment.GetEnvironmentVariable("PROMTOOL"),
            Repo.PathOf("artifacts/tools/promtool/promtool"),
        };
        candidates.AddRange((Environment.GetEnvironmentVariable("PATH") ?? "")
            .Split(System.IO.Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => System.IO.Path.Combine(dir, "promtool")));
        return candidates.FirstOrDefault(c => !string.IsNullOrEmpty(c) && File.Exists(c));
    }
}
