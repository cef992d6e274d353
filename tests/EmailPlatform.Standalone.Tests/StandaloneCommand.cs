using System.Diagnostics;

namespace EmailPlatform.Standalone.Tests;

/// <summary>Runs <c>dotnet EmailPlatform.Standalone.dll</c> as a process of its own, as a user or an image does.</summary>
internal static class StandaloneCommand
{
    /// <summary>
    /// Runs it in <paramref name="workingDirectory"/> with <paramref name="arguments"/> and waits up to
    /// <paramref name="timeout"/> for it to exit.
    /// </summary>
    /// <returns>Its exit code and what it wrote to standard output and error; -1 when it was still running at the timeout (then killed).</returns>
    public static async Task<(int ExitCode, string Output)> RunAsync(
        string workingDirectory, IEnumerable<string> arguments, IReadOnlyDictionary<string, string> environment, TimeSpan timeout)
    {
        var start = new ProcessStartInfo("dotnet") { WorkingDirectory = workingDirectory, RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(typeof(StandaloneOptions).Assembly.Location);
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var timedOut = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(timedOut.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            return (-1, $"still running after {timeout.TotalSeconds} s");
        }

        return (process.ExitCode, await output + await error);
    }
}
