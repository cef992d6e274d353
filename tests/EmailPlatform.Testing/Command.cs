using System.Diagnostics;

namespace EmailPlatform.Testing;

/// <summary>Runs a command-line tool of the test infrastructure (rabbitmqctl, postfix, chown) and returns what it printed.</summary>
public static class Command
{
    /// <summary>Throws <see cref="InvalidOperationException"/> with the tool's output when it exits other than 0 or runs past a minute.</summary>
    public static async Task<string> RunAsync(string command, params string[] args)
    {
        var start = new ProcessStartInfo(command) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        try
        {
            await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        }
        catch (TimeoutException)
        {
            process.Kill(entireProcessTree: true);
            throw new InvalidOperationException($"{command} {string.Join(' ', args)} did not finish within a minute.");
        }

        return process.ExitCode == 0
            ? await stdout
            : throw new InvalidOperationException($"{command} {string.Join(' ', args)} failed ({process.ExitCode}): {await stderr}{await stdout}");
    }
}
