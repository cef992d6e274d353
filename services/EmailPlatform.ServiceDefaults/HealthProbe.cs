namespace EmailPlatform.ServiceDefaults;

/// <summary>
/// <c>dotnet EmailPlatform.X.dll healthcheck [url]</c>: asks a running host on this machine for its readiness and exits
/// 0 when it answers 2xx, 1 otherwise. The images are chiseled (no shell, no curl), so this is what a container
/// runtime's health check (docker compose, a Dockerfile <c>HEALTHCHECK</c>) runs. Without <c>url</c> it asks
/// <c>/health/ready</c> on loopback at the port the host listens on, found as Kestrel finds it: the first http URL of
/// <c>ASPNETCORE_URLS</c> (which wins over the ports, as in the standalone image), else the first of
/// <c>ASPNETCORE_HTTP_PORTS</c>, else 8080. It runs before the host is built, so it needs no configuration and starts
/// nothing.
/// </summary>
public static class HealthProbe
{
    public const string Command = "healthcheck";

    private const int DefaultPort = 8080;

    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(5);

    public static async Task<int> RunAsync(IReadOnlyList<string> args)
    {
        Uri target;
        if (args.Count > 1)
        {
            if (!Uri.TryCreate(args[1], UriKind.Absolute, out var given) || (given.Scheme != Uri.UriSchemeHttp && given.Scheme != Uri.UriSchemeHttps))
            {
                await Console.Error.WriteLineAsync($"{Command}: '{args[1]}' is not an absolute http or https URL, such as http://127.0.0.1:8080/health/ready.");
                return 1;
            }

            target = given;
        }
        else
        {
            target = DefaultTarget(Environment.GetEnvironmentVariable("ASPNETCORE_URLS"), Environment.GetEnvironmentVariable("ASPNETCORE_HTTP_PORTS"));
        }

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

    /// <summary>
    /// <c>/health/ready</c> on loopback: a wildcard or any-address host (<c>+</c>, <c>*</c>, <c>0.0.0.0</c>,
    /// <c>[::]</c>) is asked at 127.0.0.1, a named one as it is written. An https-only host is asked on 8080, and fails
    /// clearly: the probe does not trust a certificate it cannot check.
    /// </summary>
    private static Uri DefaultTarget(string? urls, string? httpPorts)
    {
        foreach (var url in Split(urls))
        {
            if (url.StartsWith("http://", StringComparison.OrdinalIgnoreCase) && HostAndPort(url["http://".Length..]) is { } address)
            {
                return new Uri($"http://{address}/health/ready");
            }
        }

        var port = Split(httpPorts).FirstOrDefault(p => int.TryParse(p, out var n) && n is > 0 and <= 65535) ?? DefaultPort.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return new Uri($"http://127.0.0.1:{port}/health/ready");
    }

    private static string[] Split(string? list) =>
        list?.Split([';', ','], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) ?? [];

    /// <summary><c>host:port</c> to ask for an URL's authority (after <c>http://</c>); null when it names no usable port.</summary>
    private static string? HostAndPort(string authority)
    {
        var end = authority.IndexOf('/', StringComparison.Ordinal);
        authority = end < 0 ? authority : authority[..end];
        var colon = authority.LastIndexOf(':');
        string host, port;
        if (colon < 0 || authority.EndsWith(']'))
        {
            (host, port) = (authority, "80");
        }
        else
        {
            (host, port) = (authority[..colon], authority[(colon + 1)..]);
        }

        if (!int.TryParse(port, out var number) || number is < 1 or > 65535 || host.Length == 0)
        {
            return null;
        }

        host = host is "+" or "*" or "0.0.0.0" or "[::]" ? "127.0.0.1" : host;
        return Uri.CheckHostName(host.Trim('[', ']')) == UriHostNameType.Unknown ? null : $"{host}:{number}";
    }
}
