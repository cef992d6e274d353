using System.Diagnostics;
using System.Reflection;
using System.Text.Json.Nodes;
using EmailPlatform.Testing;
using Xunit.Abstractions;

namespace EmailPlatform.Resilience.Tests.Benchmark;

/// <summary>
/// The benchmark's short version: bench/run.sh's driver in a small configuration against the shared smtp-sink, so CI
/// notices when it stops working. Its figures mean nothing at this size and are not asserted on; that it measures
/// every email end to end, and reports what bench/run.sh promises, is.
/// </summary>
[Trait("Category", "Benchmark")]
public sealed class BenchmarkSmokeTests(ITestOutputHelper output)
{
    [Fact]
    public async Task BenchmarkDriverMeasuresEveryEmailEndToEndAndWritesTheReport()
    {
        var (host, port) = TestInfrastructure.SmtpSink;
        var report = Path.Combine(Path.GetTempPath(), $"ep-bench-smoke-{Guid.NewGuid():N}.json");
        try
        {
            var (code, text) = await RunDriverAsync("--sink", $"{host}:{port}", "--emails", "150", "--concurrency", "8", "--warmup", "20", "--baseline-emails", "1000",
                "--rate", "50", "--rate-emails", "100", "--workers", "1", "--connections", "2", "--priority-mix", "high=1,normal=2,bulk=1",
                "--out", report);
            output.WriteLine(text);
            Assert.True(code == 0, $"the driver exited with {code}:{Environment.NewLine}{text}");

            var json = JsonNode.Parse(await File.ReadAllTextAsync(report))!;
            Assert.True(json["complete"]!.GetValue<bool>());
            foreach (var figure in new[] { "e2e_emails_per_s", "baseline_emails_per_s", "ratio", "accept_p50_ms", "accept_p99_ms", "delivered_p50_ms", "delivered_p99_ms" })
            {
                Assert.True(json[figure]!.GetValue<double>() > 0, $"{figure} is not positive: {json}");
            }

            Assert.Equal(["delivery-0", "ingress", "status"], json["rss_mb"]!.AsObject().Select(p => p.Key).Order(StringComparer.Ordinal));
            var phases = json["phases"]!.AsArray();
            Assert.Equal([150, 100], phases.Select(p => p!["delivered"]!.GetValue<int>()));
        }
        finally
        {
            File.Delete(report);
        }
    }

    private static async Task<(int Code, string Output)> RunDriverAsync(params string[] args)
    {
        var configuration = typeof(BenchmarkSmokeTests).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Debug";
        var dll = Path.Combine(ServiceProcess.RepositoryRoot(), "bench", "EmailPlatform.LoadBench", "bin", configuration, "net10.0", "EmailPlatform.LoadBench.dll");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(dll);
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
        }

        return (process.HasExited ? process.ExitCode : -1, await stderr + await stdout);
    }
}
