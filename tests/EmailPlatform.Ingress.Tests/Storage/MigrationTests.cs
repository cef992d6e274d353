using EmailPlatform.Ingress.Storage;
using EmailPlatform.Testing;

namespace EmailPlatform.Ingress.Tests.Storage;

/// <summary>The ingress's PostgreSQL migrations against <see cref="MigrationReruns"/>'s rule.</summary>
public sealed class MigrationTests
{
    [Fact]
    public async Task EveryMigrationWithAStepOutsideATransactionCanBeRunAgainFromItsStart()
    {
        var twice = await MigrationReruns.ApplyEachNonTransactionalMigrationTwiceAsync<PostgresIngressDbContext>(
            IngressDbContext.MigrationsHistoryTable, options => new PostgresIngressDbContext(options));

        Assert.Equal(["OutboxPublishedIndex"], twice);
    }
}
