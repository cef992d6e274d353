using System.Net;
using EmailPlatform.Testing;

namespace EmailPlatform.Standalone.Tests;

/// <summary><c>dotnet EmailPlatform.Standalone.dll healthcheck [url]</c>, the standalone image's health check.</summary>
public sealed class HealthCheckCommandTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("emailplatform-health-").FullName;

    [Fact]
    public async Task TheHealthCheckCommandAsksARunningHostAndStartsNothing()
    {
        var port = ServiceProcess.FreeTcpPort();
        using var listener = new HttpListener();
        var answering = AnswerOnceAsync(listener, port);

        var (ready, readyOutput) = await HealthCheckAsync($"http://127.0.0.1:{port}/health/ready");
        await answering.WaitAsync(TimeSpan.FromSeconds(10));
        var (nothing, nothingOutput) = await HealthCheckAsync($"http://127.0.0.1:{ServiceProcess.FreeTcpPort()}/health/ready");

        Assert.True(ready == 0, $"healthcheck against a ready host exited {ready}: {readyOutput}");
        Assert.True(nothing == 1, $"healthcheck against nothing exited {nothing}: {nothingOutput}");
        Assert.Empty(Directory.EnumerateFileSystemEntries(_root));
    }

    [Theory]
    [InlineData("http://+:{0}")]
    [InlineData("http://*:{0};https://+:8443")]
    [InlineData("https://+:8443;http://0.0.0.0:{0}/")]
    [InlineData("http://[::]:{0}")]
    public async Task WithoutAUrlTheCommandAsksThePortOfAspNetCoreUrlsAsTheStandaloneImageSetsIt(string urls)
    {
        var port = ServiceProcess.FreeTcpPort();
        using var listener = new HttpListener();
        var answering = AnswerOnceAsync(listener, port);

        // The standalone Dockerfile's ENV: the URLs name the port, the ports are blank.
        var (exitCode, output) = await HealthCheckAsync(null, new()
        {
            ["ASPNETCORE_URLS"] = string.Format(System.Globalization.CultureInfo.InvariantCulture, urls, port),
            ["ASPNETCORE_HTTP_PORTS"] = "",
        });

        Assert.True(exitCode == 0, $"healthcheck with ASPNETCORE_URLS={urls} exited {exitCode}: {output}");
        await answering.WaitAsync(TimeSpan.FromSeconds(10));
    }

    /// <summary>A host on <paramref name="port"/> that answers one request: 200 for <c>/health/ready</c>, 404 otherwise.</summary>
    private static Task AnswerOnceAsync(HttpListener listener, int port)
    {
        listener.Prefixes.Add($"http://127.0.0.1:{port}/");
        listener.Start();
        return Task.Run(async () =>
        {
            var context = await listener.GetContextAsync();
            context.Response.StatusCode = context.Request.Url!.AbsolutePath == "/health/ready" ? 200 : 404;
            context.Response.Close();
        });
    }

    [Theory]
    [InlineData("not a url")]
    [InlineData("127.0.0.1:8080/health/ready")]
    [InlineData("ftp://127.0.0.1/health/ready")]
    public async Task AMalformedUrlFailsTheCheckWithAMessageInsteadOfCrashing(string url)
    {
        var (exitCode, output) = await HealthCheckAsync(url);

        Assert.True(exitCode == 1, $"healthcheck {url} exited {exitCode}: {output}");
        Assert.Contains("is not an absolute http or https URL", output, StringComparison.Ordinal);
        Assert.DoesNotContain("Unhandled exception", output, StringComparison.Ordinal);
    }

    /// <summary>Runs <c>dotnet EmailPlatform.Standalone.dll healthcheck [url]</c> from an empty directory, as the image's HEALTHCHECK does.</summary>
    private async Task<(int ExitCode, string Output)> HealthCheckAsync(string? url, Dictionary<string, string>? environment = null)
    {
        environment = new Dictionary<string, string>(environment ?? []);
        environment["Standalone__CaptureRelayPort"] = ServiceProcess.FreeTcpPort().ToString(System.Globalization.CultureInfo.InvariantCulture);
        // Still running at the timeout: it started a host instead of checking one.
        return await StandaloneCommand.RunAsync(_root, url is null ? ["healthcheck"] : ["healthcheck", url], environment, TimeSpan.FromSeconds(60));
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);
}
