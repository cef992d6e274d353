using EmailPlatform.ServiceDefaults.Storage;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Storage;

namespace EmailPlatform.Testing;

/// <summary>
/// The content store's tables (<see cref="StoredContents"/>) in the store of a service tested without an ingress. In a
/// deployment the ingress's migrations create them in the database every service shares; a delivery worker or status
/// service tested alone has only its own migrations, so the test creates them with the same mapping.
/// </summary>
public static class ContentStoreTables
{
    /// <summary>Creates the tables in the store <paramref name="service"/> (a migrated service context) is connected to.</summary>
    public static async Task CreateAsync(DbContext service)
    {
        var options = new DbContextOptionsBuilder<Tables>();
        var connectionString = service.Database.GetConnectionString();
        if (service.Database.IsNpgsql())
        {
            options.UseNpgsql(connectionString);
        }
        else
        {
            options.UseSqlite(connectionString);
        }

        await using var tables = new Tables(options.UseSnakeCaseNamingConvention().Options);
        await tables.GetService<IRelationalDatabaseCreator>().CreateTablesAsync();
    }

    private sealed class Tables(DbContextOptions<Tables> options) : DbContext(options)
    {
        protected override void OnModelCreating(ModelBuilder modelBuilder) => StoredContents.Configure(modelBuilder, migrated: true);
    }
}
