using EmailPlatform.Status.Retention;
using EmailPlatform.Status.Storage;
using Microsoft.EntityFrameworkCore;

namespace EmailPlatform.Status.Recording;

/// <summary>
/// What a change to what the recorder reads waits on (PostgreSQL): every recorder batch holds this advisory lock, shared,
/// from before it reads the erasures (<see cref="ErasedAddressRecord"/>) and the webhook subscriptions until it commits.
/// An erasure (<see cref="RecipientErasure"/>), a change to a subscription through the API
/// (<see cref="Webhooks.WebhooksEndpoints"/>) and the dispatcher's disable of a failing one take it exclusively once, right
/// after they committed (<see cref="WaitForBatchesAsync"/>), which waits for the batches that may have read without the
/// change: their rows are committed when the change is answered, and every batch after that sees it. While it waits, new
/// batches queue behind it (PostgreSQL grants a lock in turn): recording pauses, for as long as the slowest batch in
/// flight takes to commit. On SQLite the one writer at a time does the same.
/// </summary>
internal static class RecorderBatches
{
    /// <summary>The lock's key: "erasure" in ASCII, clear of any other advisory lock (there is none).</summary>
    public const long Key = 0x0065726173757265;

    /// <summary>Takes the lock, shared, for the rest of <paramref name="db"/>'s transaction.</summary>
    public static Task EnterAsync(StatusDbContext db, CancellationToken cancellationToken) =>
        db.Database.ExecuteSqlAsync($"SELECT pg_advisory_xact_lock_shared({Key})", cancellationToken);

    /// <summary>
    /// How long a subscription change waits at most (<see cref="TryWaitForBatchesAsync"/>): a batch in flight commits in
    /// milliseconds, unless it waits itself for row locks (an erasure's, a bulk operation's), and recording pauses meanwhile.
    /// </summary>
    public static readonly TimeSpan SubscriptionChangeWait = TimeSpan.FromSeconds(5);

    /// <summary>Waits, after a change is committed, for the batches that began before it (PostgreSQL; nothing to wait for on SQLite).</summary>
    /// <param name="lockTimeout">How long to wait at most (PostgreSQL's <c>lock_timeout</c>); past it the wait fails. Null: as long as it takes.</param>
    public static async Task WaitForBatchesAsync(StatusDbContext db, CancellationToken cancellationToken, TimeSpan? lockTimeout = null)
    {
        if (!db.Database.IsNpgsql())
        {
            return;
        }

        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        if (lockTimeout is { } timeout)
        {
            // SET LOCAL, as a function that takes its value as a parameter.
            var milliseconds = ((long)timeout.TotalMilliseconds).ToString(System.Globalization.CultureInfo.InvariantCulture) + "ms";
            await db.Database.ExecuteSqlAsync($"SELECT set_config('lock_timeout', {milliseconds}, true)", cancellationToken);
        }

        await db.Database.ExecuteSqlAsync($"SELECT pg_advisory_xact_lock({Key})", cancellationToken);
        await transaction.CommitAsync(cancellationToken);
    }

    /// <summary>
    /// <see cref="WaitForBatchesAsync"/> after a change to a webhook subscription, which is committed whatever happens
    /// here: for at most <see cref="SubscriptionChangeWait"/>, uncancelled, and a failure (the store gone meanwhile, the
    /// batches held past the wait) is logged, not the caller's. A batch not waited for may record events that follow the
    /// subscription as it was: a delivery for a subscription just disabled or deleted is skipped or purged by the
    /// dispatcher's sweeps; one just created or enabled misses them, as when the wait is not reached.
    /// </summary>
    public static async Task TryWaitForBatchesAsync(StatusDbContext db, Guid subscriptionId, ILogger logger)
    {
        try
        {
            await WaitForBatchesAsync(db, CancellationToken.None, SubscriptionChangeWait);
        }
        catch (Exception ex)
        {
            Webhooks.Log.BatchWaitFailed(logger, subscriptionId, ex);
        }
    }
}
