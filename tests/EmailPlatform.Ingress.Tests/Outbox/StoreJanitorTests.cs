using EmailPlatform.Ingress.Maintenance;
using EmailPlatform.Ingress.Outbox;
using EmailPlatform.Ingress.Storage;
using EmailPlatform.Ingress.Tests.Support;
using EmailPlatform.ServiceDefaults.Storage;
using EmailPlatform.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using System.Net.Http.Json;
using Npgsql;

namespace EmailPlatform.Ingress.Tests.Outbox;

/// <summary>
/// The janitor removes published outbox rows past their retention in bounded statements, oldest first, found through
/// an index, and leaves every other row alone.
/// </summary>
public sealed class StoreJanitorTests
{
    [Fact]
    public async Task PublishedRowsPastTheirRetentionAreDeletedInBatchesAndNothingElse()
    {
        // The broker is unreachable: the rows stay as accepted until the test marks them published.
        await using var app = await IngressApp.StartAsync(rabbitMq: new Uri($"amqp://guest:guest@127.0.0.1:{ServiceProcess.FreeTcpPort()}/"));
        var ids = new List<Guid>();
        for (var i = 0; i < 12; i++)
        {
            using var response = await app.PostEmailAsync(SendBodies.Json().ToJsonString());
            Assert.Equal(System.Net.HttpStatusCode.Accepted, response.StatusCode);
            ids.Add(Guid.Parse((await response.Content.ReadFromJsonAsync<System.Text.Json.Nodes.JsonObject>())!["id"]!.GetValue<string>()));
        }

        // Nine published long ago (one a second apart), one published a moment ago, two not published at all.
        for (var i = 0; i < 9; i++)
        {
            await app.ExecuteSqlAsync($"UPDATE outbox_messages SET published_at = now() - interval '30 days' + interval '{i} seconds' WHERE email_id = '{ids[i]}'");
        }

        await app.ExecuteSqlAsync($"UPDATE outbox_messages SET published_at = now() WHERE email_id = '{ids[9]}'");
        var rowsPerEmail = (await app.OutboxRowsAsync()).Count / ids.Count;
        var janitor = app.Services.GetServices<IHostedService>().OfType<StoreJanitor>().Single();
        janitor.BatchSize = 4;

        var swept = await janitor.SweepAsync(CancellationToken.None);

        Assert.Equal(9 * rowsPerEmail, swept.Outbox);
        var left = await app.OutboxRowsAsync();
        Assert.Equal(ids.Skip(9).Order(), left.Select(r => r.EmailId).Distinct().Order());
        Assert.Equal(3 * rowsPerEmail, left.Count);
        Assert.Equal(0, (await janitor.SweepAsync(CancellationToken.None)).Outbox);
    }

    /// <summary>The standalone host's store: the same batched deletes on SQLite, whose DELETE takes no LIMIT of its own.</summary>
    [Fact]
    public async Task OnSqliteThePublishedRowsPastTheirRetentionAreDeletedInBatchesToo()
    {
        var file = Path.Combine(Path.GetTempPath(), $"emailplatform-janitor-{Guid.NewGuid():N}.db");
        // The store as the standalone host registers and migrates it.
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Configuration[$"ConnectionStrings:{StoreExtensions.SqliteConnectionName}"] = $"Data Source={file};Pooling=false";
        builder.AddStore<IngressDbContext, PostgresIngressDbContext, SqliteIngressDbContext>(IngressDbContext.MigrationsHistoryTable);
        var services = builder.Services.BuildServiceProvider();
        try
        {
            await services.MigrateStoreAsync<IngressDbContext>();
            var now = DateTime.UtcNow;
            await using (var scope = services.CreateAsyncScope())
            {
                var db = scope.ServiceProvider.GetRequiredService<IngressDbContext>();
                for (var i = 0; i < 10; i++)
                {
                    db.OutboxMessages.Add(new OutboxMessage
                    {
                        Id = Guid.NewGuid(),
                        EmailId = Guid.NewGuid(),
                        MessageType = "send",
                        Payload = "{}",
                        CreatedAt = now.AddDays(-30),
                        AvailableAt = now.AddDays(-30),
                        // Seven long published, one just published, two never.
                        PublishedAt = i < 7 ? now.AddDays(-30).AddSeconds(i) : i == 7 ? now : null,
                    });
                }

                await db.SaveChangesAsync();
            }

            var janitor = new StoreJanitor(
                services.GetRequiredService<IServiceScopeFactory>(), Options.Create(new OutboxOptions()), TimeProvider.System, NullLogger<StoreJanitor>.Instance)
            {
                BatchSize = 3,
            };

            Assert.Equal(7, (await janitor.SweepAsync(CancellationToken.None)).Outbox);
            await using (var scope = services.CreateAsyncScope())
            {
                var left = await scope.ServiceProvider.GetRequiredService<IngressDbContext>().OutboxMessages.AsNoTracking().ToListAsync();
                Assert.Equal(3, left.Count);
                Assert.All(left, m => Assert.True(m.PublishedAt is null || m.PublishedAt > now.AddMinutes(-1), $"row published at {m.PublishedAt:O} left"));
            }
        }
        finally
        {
            await services.DisposeAsync();
            File.Delete(file);
        }
    }

    /// <summary>
    /// The outbox holds days of published traffic: finding the rows past their retention must not scan it all. With
    /// sequential scans priced out, the planner uses the partial index on published_at, which the migration builds.
    /// </summary>
    [Fact]
    public async Task PublishedRowsPastTheirRetentionAreFoundThroughAnIndex()
    {
        await using var app = await IngressApp.StartAsync(rabbitMq: new Uri($"amqp://guest:guest@127.0.0.1:{ServiceProcess.FreeTcpPort()}/"));
        await using var connection = new NpgsqlConnection(app.Database.ConnectionString);
        await connection.OpenAsync();
        await using (var off = new NpgsqlCommand("SET enable_seqscan = off", connection))
        {
            await off.ExecuteNonQueryAsync();
        }

        await using var explain = new NpgsqlCommand(
            "EXPLAIN SELECT id FROM outbox_messages WHERE published_at IS NOT NULL AND published_at < now() ORDER BY published_at LIMIT 1000",
            connection);
        var plan = new List<string>();
        await using (var reader = await explain.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                plan.Add(reader.GetString(0));
            }
        }

        Assert.Contains(plan, line => line.Contains("ix_outbox_messages_published_at", StringComparison.Ordinal));
    }
}
