using EmailPlatform.Delivery.Storage;
using EmailPlatform.Testing;

namespace EmailPlatform.Delivery.Tests.Storage;

/// <summary>The delivery worker's PostgreSQL migrations against <see cref="MigrationReruns"/>'s rule.</summary>
public sealed class MigrationTests
{
    [Fact]
    public async Task EveryMigrationWithAStepOutsideATransactionCanBeRunAgainFromItsStart()
    {
        var twice = await MigrationReruns.ApplyEachNonTransactionalMigrationTwiceAsync<PostgresDeliveryDbContext>(
            DeliveryDbContext.MigrationsHistoryTable, options => new PostgresDeliveryDbContext(options));

        Assert.Equal(["FinalRecordsIndex"], twice);
    }
}
