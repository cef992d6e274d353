namespace EmailPlatform.EndToEnd.Tests;

internal static class PlatformLogs
{
    /// <summary>Runs a bounded wait; when it times out, the failure carries what the services printed.</summary>
    public static async Task<T> WithLogsAsync<T>(this DistributedPlatform platform, Func<Task<T>> wait)
    {
        try
        {
            return await wait();
        }
        catch (TimeoutException ex)
        {
            throw new TimeoutException(ex.Message + Environment.NewLine + platform.Logs, ex);
        }
    }
}
