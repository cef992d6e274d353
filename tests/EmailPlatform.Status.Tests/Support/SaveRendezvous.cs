using Microsoft.EntityFrameworkCore.Diagnostics;

namespace EmailPlatform.Status.Tests.Support;

/// <summary>
/// Holds every participating context just before it saves until all of them have read what they will
/// write: concurrent writers then really do collide, on every run, instead of only when the timing is unlucky.
/// </summary>
internal sealed class SaveRendezvous(int parties) : SaveChangesInterceptor
{
    private readonly TaskCompletionSource _allArrived = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _arrived;

    public override async ValueTask<InterceptionResult<int>> SavingChangesAsync(
        DbContextEventData eventData, InterceptionResult<int> result, CancellationToken cancellationToken = default)
    {
        if (Interlocked.Increment(ref _arrived) == parties)
        {
            _allArrived.TrySetResult();
        }

        await _allArrived.Task.WaitAsync(TimeSpan.FromSeconds(30), cancellationToken);
        return result;
    }
}
