namespace EmailPlatform.Standalone;

/// <summary>
/// One host per data directory: <c>data/.lock</c>, opened exclusively (an advisory <c>flock</c> on Linux and macOS, a
/// sharing lock on Windows) before the stores are migrated and the bus recovered. A second host started on the same
/// directory would otherwise take the running host's in-flight work for what a stop lost (<see cref="InMemoryBusRecovery"/>)
/// and publish, hand back and make due again what that host is doing. The system releases the lock with the process,
/// so a host killed leaves a file that locks nothing.
/// </summary>
internal sealed class DataDirectoryLock : IDisposable
{
    private const string FileName = ".lock";

    private readonly FileStream _file;

    private DataDirectoryLock(FileStream file) => _file = file;

    /// <summary>
    /// Takes the lock of the app's data directory, held until the host stops (a test's next host in the same process can
    /// start right after) or this is disposed; null, with the line that explains it in <paramref name="inUse"/>, when
    /// another host holds it or it cannot be taken.
    /// </summary>
    private static DataDirectoryLock? TryTake(WebApplication app, out string? inUse)
    {
        var directory = Path.GetFullPath(app.Services.GetRequiredService<StandaloneOptions>().DataDirectory);
        var open = new FileStreamOptions { Mode = FileMode.OpenOrCreate, Access = FileAccess.ReadWrite, Share = FileShare.None };
        if (!OperatingSystem.IsWindows())
        {
            open.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        try
        {
            var taken = new DataDirectoryLock(new FileStream(Path.Combine(directory, FileName), open));
            app.Lifetime.ApplicationStopped.Register(taken.Dispose);
            inUse = null;
            return taken;
        }
        catch (IOException ex) when (IsHeld(ex))
        {
            inUse = $"Another standalone host is using {directory}. Stop it, or set Standalone:DataDirectory to a directory of this host's own.";
            return null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // A read-only directory, or a lock file another user left (a run as root, a container's): the host could not
            // keep its store there either.
            inUse = $"Cannot take the lock {Path.Combine(directory, FileName)} ({ex.Message}). Set Standalone:DataDirectory to a directory this host can write.";
            return null;
        }
    }

    /// <summary>
    /// The lock of the app's data directory, to hold while the host runs; or null when the start ends here, before the
    /// stores are migrated and the bus recovered, having changed nothing: another host holds the data directory, or a
    /// port this host needs is in use (<see cref="BusyPort.FindTaken"/>). Writes the one line that says why.
    /// </summary>
    public static async Task<DataDirectoryLock?> TakeOrRefuseStartAsync(WebApplication app)
    {
        var held = TryTake(app, out var refusal);
        refusal ??= BusyPort.FindTaken(app);
        if (refusal is null)
        {
            return held;
        }

        held?.Dispose();
        await Console.Error.WriteLineAsync(refusal);
        return null;
    }

    /// <summary>
    /// The lock held elsewhere: EWOULDBLOCK from <c>flock</c> (11 on Linux, 35 on macOS); ERROR_SHARING_VIOLATION or
    /// ERROR_LOCK_VIOLATION on Windows. Any other failure (permissions, a read-only disk) is not another host's doing.
    /// </summary>
    private static bool IsHeld(IOException exception) =>
        exception.GetType() == typeof(IOException) && exception.HResult is 11 or 35 or unchecked((int)0x80070020) or unchecked((int)0x80070021);

    public void Dispose() => _file.Dispose();
}
