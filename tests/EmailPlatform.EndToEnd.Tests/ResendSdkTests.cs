using System.Diagnostics;
using System.Globalization;
using EmailPlatform.Testing;

namespace EmailPlatform.EndToEnd.Tests;

/// <summary>
/// Issue 3's compatibility promise, checked with the real client: the official Resend Node SDK
/// (<c>tests/resend-compat</c>, npm <c>resend</c> pinned in its package-lock.json) sends, batches, reads back,
/// schedules, reschedules and cancels against the standalone host's <c>/v1</c>, configured only through
/// <c>RESEND_API_KEY</c> and <c>RESEND_BASE_URL</c>.
/// </summary>
public sealed class ResendSdkTests : IDisposable
{
    private static readonly TimeSpan ScriptTimeout = TimeSpan.FromSeconds(120);

    private readonly string _workingDirectory = Directory.CreateTempSubdirectory("emailplatform-resend-").FullName;

    [Fact]
    public async Task TheOfficialResendNodeSdkWorksAgainstV1Unchanged()
    {
        var compat = Path.Combine(ServiceProcess.RepositoryRoot(), "tests", "resend-compat");
        Assert.True(File.Exists(Path.Combine(compat, "node_modules", "resend", "package.json")),
            $"The Resend SDK is not installed in {compat}/node_modules. Run `./build.sh infra-up` (it runs `npm ci` there), " +
            $"or `npm ci --prefix {compat}`; Node.js 20 or later is needed.");

        var apiKey = TestInfrastructure.NewApiKey();
        await using var host = await ServiceProcess.StartAsync("EmailPlatform.Standalone", new Dictionary<string, string?>
        {
            ["Auth__BootstrapKey"] = apiKey,
            ["Standalone__CaptureRelayPort"] = ServiceProcess.FreeTcpPort().ToString(CultureInfo.InvariantCulture),
        }, _workingDirectory);

        var (exitCode, output) = await RunNodeAsync(compat, "compat.mjs", new Dictionary<string, string>
        {
            ["RESEND_API_KEY"] = apiKey,
            ["RESEND_BASE_URL"] = new Uri(host.Url!, "/v1").ToString(),
        });

        Assert.True(exitCode == 0,
            $"node compat.mjs exited with {exitCode}:{Environment.NewLine}{output}{Environment.NewLine}" +
            $"---- standalone host ----{Environment.NewLine}{host.Output}");
        Assert.Contains("resend-compat: all checks passed", output, StringComparison.Ordinal);
    }

    public void Dispose() => Directory.Delete(_workingDirectory, recursive: true);

    private static async Task<(int ExitCode, string Output)> RunNodeAsync(
        string workingDirectory, string script, IDictionary<string, string> environment)
    {
        var start = new ProcessStartInfo("node")
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.ArgumentList.Add(script);
        start.Environment.Remove("RESEND_USER_AGENT");
        start.Environment.Remove("RESEND_DEBUG");
        foreach (var (key, value) in environment)
        {
            start.Environment[key] = value;
        }

        Process process;
        try
        {
            process = Process.Start(start)!;
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            Assert.Fail($"Could not start `node` ({ex.Message}). Install Node.js 20 or later (`./build.sh infra-up` checks for it).");
            throw;
        }

        using (process)
        {
            var lines = new System.Collections.Concurrent.ConcurrentQueue<string>();
            process.OutputDataReceived += (_, e) => { if (e.Data is not null) lines.Enqueue(e.Data); };
            process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lines.Enqueue("stderr: " + e.Data); };
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();

            using var timeout = new CancellationTokenSource(ScriptTimeout);
            try
            {
                await process.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                return (-1, $"timed out after {ScriptTimeout}{Environment.NewLine}{string.Join(Environment.NewLine, lines)}");
            }

            process.WaitForExit(); // drains the redirected output
            return (process.ExitCode, string.Join(Environment.NewLine, lines));
        }
    }
}
