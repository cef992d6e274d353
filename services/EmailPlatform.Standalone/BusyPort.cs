using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;

namespace EmailPlatform.Standalone;

/// <summary>
/// A start that fails because a port is taken (another host still running, or anything else on 8080 or 2525): the
/// most common first-run failure. The host has logged it already; instead of a second stack trace and an abort, the
/// process ends with one line that says which setting moves it elsewhere, and exit code 1.
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
            await Console.Error.WriteLineAsync(explanation);
            return 1;
        }
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
            : exception is IOException ? $"{exception.Message} Stop what listens there, or listen elsewhere with --urls (--urls http://localhost:8099) or ASPNETCORE_URLS."
            // The capture relay's own message names its setting.
            : exception.Message;
    }
}
