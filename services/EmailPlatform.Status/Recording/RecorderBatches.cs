using EmailPlatform.Status.Retention;
using EmailPlatform.Status.Storage;
using Microsoft.EntityFrameworkCore;

namespace EmailPlatform.Status.Recording;

/// <summary>
/// What a change to what the recorder reads waits on (PostgreSQL): every recorder batch holds this advisory lock, shared,
/// from before it reads the erasures (<see cref="ErasedAddressRecord"/>) and the webhook subscriptions until it commits.
/// An erasure (<see cref="RecipientErasure"/>) and a change to a subscription (<see cref="Webhooks.WebhooksEndpoints"/>)
/// take it exclusively once, right after they committed (<see cref="WaitForBatchesAsync"/>), which waits for the batches
/// that may have read without the change: their rows are committed when the change is answered, and every batch after
/// that sees it. On SQLite the one writer at a time does the same.
/// </summary>
internal static class RecorderBatches
{
    /// <summary>The lock's key: "erasure" in ASCII, clear of any other advisory lock (there is none).</summary>
    public const long Key = 0x0065726173757265;

    /// <summary>Takes the lock, shared, for the rest of <paramref name="db"/>'s transaction.</summary>
    public static Task EnterAsync(StatusDbContext db, CancellationToken cancellationToken) =>
        db.Database.ExecuteSqlAsync($"SELECT pg_advisory_xact_lock_shared({Key})", cancellationToken);

    /// <summary>Waits, after a change is committed, for the batches that began before it (PostgreSQL; nothing to wait for on SQLite).</summary>
    public static async Task WaitForBatchesAsync(StatusDbContext db, CancellationToken cancellationToken)
    {
        if (!db.Database.IsNpgsql())
        {
            return;
        }

        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        await db.Database.ExecuteSqlAsync($"SELECT pg_advisory_xact_lock({Key})", cancellationToken);
        await transaction.CommitAsync(cancellationToken);
    }
}
