using Microsoft.EntityFrameworkCore;

namespace EmailPlatform.ServiceDefaults.Storage;

/// <summary>
/// Deletes of rows past their retention, a bounded number per statement. One statement over everything that is due
/// (after an outage, on the first clean-up of a large store, or simply an hour of traffic) holds its locks and writes
/// its WAL for as long as it takes, and grows with the store; small statements, each committed on its own, do not.
/// </summary>
public static class BatchedDeletes
{
    /// <summary>Rows deleted per statement unless a caller says otherwise.</summary>
    public const int DefaultBatchSize = 1000;

    /// <summary>
    /// Deletes what <paramref name="rows"/> selects, in its order, <paramref name="batchSize"/> rows per statement,
    /// until a statement deletes fewer; returns how many were deleted.
    /// </summary>
    public static async Task<int> ExecuteDeleteInBatchesAsync<T>(
        this IOrderedQueryable<T> rows, int batchSize, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batchSize);
        var total = 0;
        int deleted;
        do
        {
            deleted = await rows.Take(batchSize).ExecuteDeleteAsync(cancellationToken);
            total += deleted;
        }
        while (deleted == batchSize);

        return total;
    }
}
