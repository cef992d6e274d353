using EmailPlatform.Status.Retention;
using EmailPlatform.Status.Storage;
using Microsoft.EntityFrameworkCore;

namespace EmailPlatform.Status.Recording;

/// <summary>
/// What an erasure waits on (PostgreSQL): every recorder batch holds this advisory lock, shared, from before it reads the
/// erasures (<see cref="ErasedAddressRecord"/>) until it commits; an erasure takes it exclusively once, right after it
/// committed its own (<see cref="RecipientErasure"/>), which waits for the batches that may have read the erasures without
/// it. Their rows are committed, so the erasure finds them; every batch after that sees it.
/// </summary>
internal static class RecorderBatches
{
    /// <summary>The lock's key: "erasure" in ASCII, clear of any other advisory lock (there is none).</summary>
    public const long Key = 0x0065726173757265;

    /// <summary>Takes the lock, shared, for the rest of <paramref name="db"/>'s transaction.</summary>
    public static Task EnterAsync(StatusDbContext db, CancellationToken cancellationToken) =>
        db.Database.ExecuteSqlAsync($"SELECT pg_advisory_xact_lock_shared({Key})", cancellationToken);
}
