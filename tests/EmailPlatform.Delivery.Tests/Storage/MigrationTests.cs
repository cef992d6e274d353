using EmailPlatform.Delivery.Storage;
using EmailPlatform.Testing;
using Microsoft.EntityFrameworkCore;

namespace EmailPlatform.Delivery.Tests.Storage;

/// <summary>The delivery worker's PostgreSQL migrations against <see cref="MigrationReruns"/>'s rule.</summary>
public sealed class MigrationTests
{
    [Fact]
    public async Task EveryMigrationWithAStepOutsideATransactionCanBeRunAgainFromItsStart()
    {
        var twice = await MigrationReruns.ApplyEachNonTransactionalMigrationTwiceAsync(connectionString => new PostgresDeliveryDbContext(
            new DbContextOptionsBuilder<PostgresDeliveryDbContext>()
                .UseNpgsql(connectionString, o => o.MigrationsHistoryTable(DeliveryDbContext.MigrationsHistoryTable))
                .UseSnakeCaseNamingConvention()
                .Options));

        Assert.Equal(["FinalRecordsIndex"], twice);
    }
}
