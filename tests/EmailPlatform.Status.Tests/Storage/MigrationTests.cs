using EmailPlatform.Status.Storage;
using EmailPlatform.Testing;

namespace EmailPlatform.Status.Tests.Storage;

/// <summary>The status service's PostgreSQL migrations against <see cref="MigrationReruns"/>'s rule.</summary>
public sealed class MigrationTests
{
    [Fact]
    public async Task EveryMigrationWithAStepOutsideATransactionCanBeRunAgainFromItsStart()
    {
        var twice = await MigrationReruns.ApplyEachNonTransactionalMigrationTwiceAsync<PostgresStatusDbContext>(
            StatusDbContext.MigrationsHistoryTable, options => new PostgresStatusDbContext(options));

        // HeaderAddressCatchUp added its column in a transaction of its own before building its index concurrently: run
        // again, it failed on the column already there until the column was added IF NOT EXISTS.
        Assert.Equal(["RetentionFromDueTime", "HeaderAddressCatchUp", "WebhookDeletionAndStatusIndex", "WebhookClaimIndex", "AddressEmailIndexes"], twice);
    }
}
