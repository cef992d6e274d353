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

    private static readonly ExternalTool Tool = new("promtool", "PROMTOOL", "artifacts/tools/promtool/promtool", HowToGetIt);

    public static string Path => Tool.Path;

    /// <summary>Runs promtool in the repository root; returns its combined output, or fails the test with it.</summary>
    public static string Run(params string[] args)
    {
        var (stdout, stderr) = Tool.Run(args);
        return stdout + stderr;
    }
}
