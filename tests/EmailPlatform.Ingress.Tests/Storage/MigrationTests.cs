using EmailPlatform.Ingress.Storage;
using EmailPlatform.Testing;
using Microsoft.EntityFrameworkCore;

namespace EmailPlatform.Ingress.Tests.Storage;

/// <summary>The ingress's PostgreSQL migrations against <see cref="MigrationReruns"/>'s rule.</summary>
public sealed class MigrationTests
{
    [Fact]
    public async Task EveryMigrationWithAStepOutsideATransactionCanBeRunAgainFromItsStart()
    {
        var twice = await MigrationReruns.ApplyEachNonTransactionalMigrationTwiceAsync(connectionString => new PostgresIngressDbContext(
            new DbContextOptionsBuilder<PostgresIngressDbContext>()
                .UseNpgsql(connectionString, o => o.MigrationsHistoryTable(IngressDbContext.MigrationsHistoryTable))
                .UseSnakeCaseNamingConvention()
                .Options));

        Assert.Equal(["OutboxPublishedIndex"], twice);
    }
}
