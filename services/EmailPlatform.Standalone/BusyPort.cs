using System.Net;
using System.Net.Sockets;
using EmailPlatform.Standalone.Capture;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace EmailPlatform.Standalone;

/// <summary>
/// A start that fails because a port is taken (another host still running, or anything else on 8080 or 2525): the
/// most common first-run failure. It is looked for before the host opens its stores (<see cref="FindTaken"/>), and the
/// process ends with one line that says which setting moves it elsewhere, and exit code 1, instead of a stack trace and
/// an abort.
/// </summary>
internal static class BusyPort
{
    /// <summary>Runs the host until it stops: exit code 0, or 1 after the line that explains a port in use.</summary>
    public static async Task<int> RunAsync(WebApplication app)
    {
        try
        {
            await app.RunAsync();
            return 0;
        }
        catch (Exception ex) when (Explain(ex) is { } explanation)
        {
            // Taken after FindTaken looked: the host has logged it already, and its workers have started.
            await Console.Error.WriteLineAsync(explanation);
            return 1;
        }
    }

    /// <summary>
    /// The line that explains the first port the host is to listen on (the API's, and the capture relay's when it runs)
    /// that something else listens on, or null when none is. Looked for before the stores are migrated and the bus is
    /// recovered: a start found late on a busy port ends like a kill, with work claimed and the in-memory bus's messages
    /// lost. Each port is bound as Kestrel or the relay would, and released.
    /// </summary>
    public static string? FindTaken(WebApplication app)
    {
        // A test's in-memory server listens on nothing.
        if (app.Services.GetRequiredService<IServer>().GetType().Assembly == typeof(KestrelServerOptions).Assembly)
        {
            foreach (var (scheme, endpoint) in ApiEndpoints(app.Configuration))
            {
                if (InUse(endpoint) is not null)
                {
                    // Kestrel's own words for it.
                    return ApiPortInUse($"Failed to bind to address {scheme}://{endpoint}: address already in use.");
                }
            }
        }

        var options = app.Services.GetRequiredService<StandaloneOptions>();
        return app.Services.GetService<CaptureRelay>() is not null
            && InUse(new IPEndPoint(IPAddress.Loopback, options.CaptureRelayPort)) is { } relayInUse
            ? CaptureRelay.CannotListen(options.CaptureRelayPort, relayInUse.Message)
            : null;
    }

    /// <summary>What to tell the user about <paramref name="exception"/>, or null when it is not a port in use.</summary>
    public static string? Explain(Exception exception)
    {
        var inUse = false;
        for (var e = exception; e is not null && !inUse; e = e.InnerException)
        {
            inUse = e is AddressInUseException or SocketException { SocketErrorCode: SocketError.AddressAlreadyInUse };
        }

        return !inUse ? null
            // Kestrel's "Failed to bind to address http://127.0.0.1:8080: address already in use."
            : exception is IOException ? ApiPortInUse(exception.Message)
            // The capture relay's own message names its setting.
            : exception.Message;
    }

    private static string ApiPortInUse(string failure) =>
        $"{failure} Stop what listens there, or listen elsewhere with --urls (--urls http://localhost:8099) or ASPNETCORE_URLS.";

    /// <summary>
    /// The endpoints Kestrel binds for its URLs (those of <c>Kestrel:Endpoints</c> when it has any, which replace them),
    /// in its order: <c>localhost</c> on both loopbacks, an IP address as it is, any other host on every interface (IPv6
    /// with IPv4 beside it). A Unix socket, a named pipe, port 0 or a URL it cannot read are left to Kestrel.
    /// </summary>
    private static IEnumerable<(string Scheme, IPEndPoint Endpoint)> ApiEndpoints(IConfiguration configuration)
    {
        var endpoints = configuration.GetSection("Kestrel:Endpoints").GetChildren().Select(e => e["Url"]).OfType<string>().ToArray();
        var urls = endpoints.Length > 0 ? endpoints : (configuration[WebHostDefaults.ServerUrlsKey] ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        foreach (var text in urls)
        {
            BindingAddress url;
            try
            {
                url = BindingAddress.Parse(text);
            }
            catch (FormatException)
            {
                continue;
            }

            if (url.IsUnixPipe || url.IsNamedPipe || url.Port == 0)
            {
                continue;
            }

            var scheme = string.Equals(url.Scheme, "https", StringComparison.OrdinalIgnoreCase) ? "https" : "http";
            IPAddress[] addresses = string.Equals(url.Host, "localhost", StringComparison.OrdinalIgnoreCase) ? [IPAddress.Loopback, IPAddress.IPv6Loopback]
                : IPAddress.TryParse(url.Host, out var address) ? [address]
                : [IPAddress.IPv6Any, IPAddress.Any];
            foreach (var each in addresses)
            {
                yield return (scheme, new IPEndPoint(each, url.Port));
            }
        }
    }

    /// <summary>
    /// Why <paramref name="endpoint"/> cannot be listened on because something listens there, or null. Any other failure
    /// (no IPv6 on this machine, an address not here) is left to the listener, which reports it or does without.
    /// </summary>
    private static SocketException? InUse(IPEndPoint endpoint)
    {
        try
        {
            using var listener = new TcpListener(endpoint);
            if (endpoint.Address.Equals(IPAddress.IPv6Any))
            {
                listener.Server.DualMode = true;
            }

            listener.Start();
            return null;
        }
        catch (SocketException ex) when (ex.SocketErrorCode == SocketError.AddressAlreadyInUse)
        {
            return ex;
        }
        catch (SocketException)
        {
            return null;
        }
    }
}
