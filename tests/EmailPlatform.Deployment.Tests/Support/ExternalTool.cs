using System.Diagnostics;

namespace EmailPlatform.Deployment.Tests.Support;

/// <summary>
/// A command-line tool the static checks run (helm, promtool): <c>$VARIABLE</c>, else the copy <c>./build.sh</c>
/// installs under artifacts/tools, else the one on PATH. The tests fail, rather than skip, without it.
/// </summary>
internal sealed class ExternalTool(string name, string environmentVariable, string installedCopy, string howToGetIt)
{
    private readonly Lazy<string?> _binary = new(() => Find(name, environmentVariable, installedCopy));

    public string Path => _binary.Value ?? throw new Xunit.Sdk.XunitException(howToGetIt);

    /// <summary>Runs the tool in the repository root; returns what it wrote, or fails the test with it.</summary>
    public (string Stdout, string Stderr) Run(IEnumerable<string> args, IReadOnlyDictionary<string, string>? environment = null)
    {
        var arguments = args.ToList();
        var (exitCode, stdout, stderr) = TryRun(arguments, environment);
        Assert.True(exitCode == 0, $"{name} {string.Join(' ', arguments)} exited with {exitCode}:\n{stdout}\n{stderr}");
        return (stdout, stderr);
    }

    /// <summary>Runs the tool in the repository root; returns its exit code and what it wrote, whatever the outcome.</summary>
    public (int ExitCode, string Stdout, string Stderr) TryRun(IEnumerable<string> args, IReadOnlyDictionary<string, string>? environment = null)
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

        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[key] = value;
        }

        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, stdout, stderr.Result);
    }

    private static string? Find(string name, string environmentVariable, string installedCopy)
    {
        var candidates = new List<string?>
        {
            Environment.GetEnvironmentVariable(environmentVariable),
            Repo.PathOf(installedCopy),
        };
        candidates.AddRange((Environment.GetEnvironmentVariable("PATH") ?? "")
            .Split(System.IO.Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => System.IO.Path.Combine(dir, name)));
        return candidates.FirstOrDefault(c => !string.IsNullOrEmpty(c) && File.Exists(c));
    }
}
