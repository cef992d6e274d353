namespace EmailPlatform.ServiceDefaults;

/// <summary>
/// <c>dotnet EmailPlatform.X.dll healthcheck [url]</c>: asks a running host on this machine for its readiness and exits
/// 0 when it answers 2xx, 1 otherwise. The images are chiseled (no shell, no curl), so this is what a container
/// runtime's health check (docker compose, a Dockerfile <c>HEALTHCHECK</c>) runs. Without <c>url</c> it asks
/// <c>/health/ready</c> on the first of <c>ASPNETCORE_HTTP_PORTS</c> (8080 in the images) on loopback. It runs before the
/// host is built, so it needs no configuration and starts nothing.
/// </summary>
public static class HealthProbe
{
    public const string Command = "healthcheck";

    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(5);

    public static async Task<int> RunAsync(IReadOnlyList<string> args)
    {
        var target = args.Count > 1 ? new Uri(args[1]) : DefaultTarget();
        try
        {
            using var http = new HttpClient { Timeout = Timeout };
            using var response = await http.GetAsync(target);
            await Console.Out.WriteLineAsync($"{target}: {(int)response.StatusCode} {response.ReasonPhrase}");
            return response.IsSuccessStatusCode ? 0 : 1;
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
        {
            await Console.Error.WriteLineAsync($"{target}: {ex.Message}");
            return 1;
        }
    }

    private static Uri DefaultTarget()
    {
        var ports = Environment.GetEnvironmentVariable("ASPNETCORE_HTTP_PORTS");
        var port = ports?.Split([';', ','], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).FirstOrDefault() ?? "8080";
        return new Uri($"http://127.0.0.1:{port}/health/ready");
    }
}
