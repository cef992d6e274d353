using System.Diagnostics;

namespace EmailPlatform.Resilience.Tests.Support;

/// <summary>Runs the infrastructure's own command-line tools (pg_ctl, rabbitmqctl) for the dedicated instances.</summary>
internal static class Shell
{
    public static bool IsRoot => Environment.UserName == "root";

    /// <summary>Runs <paramref name="command"/> as <paramref name="user"/> (through runuser when this process is root).</summary>
    public static async Task<(int ExitCode, string Output)> RunAsync(string? user, IReadOnlyDictionary<string, string> environment, TimeSpan timeout, string command, params string[] args)
    {
        var start = new ProcessStartInfo(user is not null && IsRoot ? "runuser" : command)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = "/",
        };
        if (user is not null && IsRoot)
        {
            start.ArgumentList.Add("-u");
            start.ArgumentList.Add(user);
            start.ArgumentList.Add("--");
            start.ArgumentList.Add("env");
            foreach (var (key, value) in environment)
            {
                start.ArgumentList.Add($"{key}={value}");
            }

            start.ArgumentList.Add(command);
        }
        else
        {
            foreach (var (key, value) in environment)
            {
                start.Environment[key] = value;
            }
        }

        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cancel = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cancel.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            return (-1, $"{command} timed out after {timeout}");
        }

        return (process.ExitCode, await stdout + await stderr);
    }

    public static async Task<string> RunCheckedAsync(string? user, IReadOnlyDictionary<string, string> environment, TimeSpan timeout, string command, params string[] args)
    {
        var (code, output) = await RunAsync(user, environment, timeout, command, args);
        return code == 0 ? output : throw new InvalidOperationException($"{command} {string.Join(' ', args)} failed ({code}): {output}");
    }

    /// <summary>Makes a directory the service's user can write (the tools refuse to run as root).</summary>
    public static async Task<string> OwnedDirectoryAsync(string prefix, string? owner)
    {
        var path = Path.Combine(Path.GetTempPath(), $"{prefix}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(path);
        if (owner is not null && IsRoot)
        {
            await RunCheckedAsync(null, new Dictionary<string, string>(), TimeSpan.FromSeconds(30), "chown", "-R", $"{owner}:{owner}", path);
        }

        return path;
    }
}
