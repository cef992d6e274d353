using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using EmailPlatform.Ingress.Sending;
using EmailPlatform.Ingress.Storage;
using EmailPlatform.Ingress.Templates;
using EmailPlatform.Ingress.Tests.Support;
using EmailPlatform.ServiceDefaults.Storage;
using EmailPlatform.Testing;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using static EmailPlatform.Ingress.Tests.Templates.TemplateEndpointTests;

namespace EmailPlatform.Ingress.Tests.Templates;

/// <summary>
/// A templated send reads the one version it renders, untracked: a template edited hundreds of times with large HTML
/// was read whole on every send, and its versions stayed in the context that commits the send.
/// </summary>
public sealed class TemplateVersionLoadingTests
{
    [Fact]
    public async Task ATemplatedSendMaterializesOnlyTheVersionItRendersAndTracksNothing()
    {
        await using var app = await IngressApp.StartAsync();
        using var client = app.CreateClient();
        var id = (await SendAsync(client, HttpMethod.Post, "/v1/templates", Welcome(), HttpStatusCode.Created)).GetProperty("id").GetString();
        await SendAsync(client, HttpMethod.Post, "/v1/templates/welcome/publish", null, HttpStatusCode.OK);
        await SendAsync(client, HttpMethod.Patch, "/v1/templates/welcome", new JsonObject { ["subject"] = "Two {{ name }}" }, HttpStatusCode.OK);
        await SendAsync(client, HttpMethod.Post, "/v1/templates/welcome/publish", null, HttpStatusCode.OK);
        foreach (var subject in new[] { "Three {{ name }}", "Four {{ name }}", "Five {{ name }}" })
        {
            await SendAsync(client, HttpMethod.Patch, "/v1/templates/welcome", new JsonObject { ["subject"] = subject }, HttpStatusCode.OK);
        }

        // The latest published version, a pinned one, the latest (a test send), a pinned one by id.
        foreach (var (reference, published, expected) in new[]
        {
            ("welcome", true, "Two Ada"), ("welcome@4", true, "Four Ada"), ("welcome", false, "Five Ada"), ($"{id}@1", true, "Welcome, Ada!"),
        })
        {
            var materialized = new Materialized();
            await using var db = new PostgresIngressDbContext(new DbContextOptionsBuilder<PostgresIngressDbContext>()
                .UseNpgsql(app.Database.ConnectionString).UseSnakeCaseNamingConvention().AddInterceptors(materialized).Options);
            await using var scope = app.Services.CreateAsyncScope();
            var sending = ActivatorUtilities.CreateInstance<TemplateSending>(scope.ServiceProvider, db);
            var send = new SendEmailRequest
            {
                From = "hello@acme.test",
                To = ["ada@example.test"],
                Template = new TemplateReference { Id = reference, Variables = new Dictionary<string, JsonElement> { ["name"] = JsonSerializer.SerializeToElement("Ada") } },
            };

            var (request, failure) = await sending.ApplyAsync(send, CancellationToken.None, published);

            Assert.Null(failure);
            Assert.Equal(expected, request!.Subject);
            Assert.Equal([nameof(TemplateVersionRecord)], materialized.Types);
            Assert.Empty(db.ChangeTracker.Entries());
        }

        // Reads still list every version.
        var latest = await SendAsync(client, HttpMethod.Get, "/v1/templates/welcome", null, HttpStatusCode.OK);
        Assert.Equal((5, 2, 5), (latest.GetProperty("version").GetInt32(), latest.GetProperty("published_version").GetInt32(), latest.GetProperty("latest_version").GetInt32()));
        Assert.Equal(["published", "published", "draft", "draft", "draft"],
            latest.GetProperty("versions").EnumerateArray().Select(v => v.GetProperty("status").GetString()));
        Assert.Equal([1, 2, 3, 4, 5], latest.GetProperty("versions").EnumerateArray().Select(v => v.GetProperty("version").GetInt32()));
        var pinned = await SendAsync(client, HttpMethod.Get, "/v1/templates/welcome@2", null, HttpStatusCode.OK);
        Assert.Equal((2, "published", "Two {{ name }}"), (pinned.GetProperty("version").GetInt32(), pinned.GetProperty("status").GetString(), pinned.GetProperty("subject").GetString()));
        Assert.Equal(5, pinned.GetProperty("versions").GetArrayLength());
    }

    [Theory]
    [InlineData("postgres")]
    [InlineData("sqlite")]
    public async Task DeletingATemplateLoadsNoneOfItsVersionsAndRemovesThemAll(string provider)
    {
        await using var database = provider == "postgres" ? await TemporaryDatabase.CreateAsync() : null;
        var file = Path.Combine(Path.GetTempPath(), $"emailplatform-templates-{Guid.NewGuid():N}.db");
        // The store as the services register and migrate it, with a context of the same provider that watches what it reads.
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Configuration[database is null ? $"ConnectionStrings:{StoreExtensions.SqliteConnectionName}" : $"ConnectionStrings:{StoreExtensions.PostgresConnectionName}"] =
            database?.ConnectionString ?? $"Data Source={file};Pooling=false";
        builder.AddStore<IngressDbContext, PostgresIngressDbContext, SqliteIngressDbContext>(IngressDbContext.MigrationsHistoryTable);
        await using var services = builder.Services.BuildServiceProvider();
        try
        {
            await services.MigrateStoreAsync<IngressDbContext>();
            var kept = new TemplateRecord { Id = Guid.NewGuid(), Name = "Kept", Alias = "kept", CreatedAt = DateTime.UtcNow };
            var deleted = new TemplateRecord { Id = Guid.NewGuid(), Name = "Welcome", Alias = "welcome", CreatedAt = DateTime.UtcNow };
            await using (var scope = services.CreateAsyncScope())
            {
                var db = scope.ServiceProvider.GetRequiredService<IngressDbContext>();
                db.Templates.AddRange(kept, deleted);
                db.TemplateVersions.AddRange(Enumerable.Range(1, 3).Select(v => new TemplateVersionRecord
                {
                    TemplateId = deleted.Id, Version = v, Subject = $"Version {v}", Html = new string('x', 1000), CreatedAt = DateTime.UtcNow,
                }).Append(new TemplateVersionRecord { TemplateId = kept.Id, Version = 1, Subject = "Kept", CreatedAt = DateTime.UtcNow }));
                await db.SaveChangesAsync();
            }

            var materialized = new Materialized();
            await using (var scope = services.CreateAsyncScope())
            {
                var connection = scope.ServiceProvider.GetRequiredService<IngressDbContext>().Database.GetConnectionString();
                await using IngressDbContext watched = database is null
                    ? new SqliteIngressDbContext(new DbContextOptionsBuilder<SqliteIngressDbContext>()
                        .UseSqlite(connection).UseSnakeCaseNamingConvention().AddInterceptors(materialized).Options)
                    : new PostgresIngressDbContext(new DbContextOptionsBuilder<PostgresIngressDbContext>()
                        .UseNpgsql(connection).UseSnakeCaseNamingConvention().AddInterceptors(materialized).Options);

                var result = await TemplatesEndpoints.DeleteAsync("welcome", watched, CancellationToken.None);
                var missing = await TemplatesEndpoints.DeleteAsync("welcome", watched, CancellationToken.None);

                Assert.Equal(deleted.Id, Assert.IsType<Ok<TemplateDeletedResponse>>(result.Result).Value!.Id);
                Assert.Equal(404, Assert.IsType<ProblemHttpResult>(missing.Result).StatusCode);
                Assert.Empty(materialized.Types);
            }

            await using (var scope = services.CreateAsyncScope())
            {
                var db = scope.ServiceProvider.GetRequiredService<IngressDbContext>();
                Assert.Equal([kept.Id], await db.Templates.Select(t => t.Id).ToListAsync());
                Assert.Equal([kept.Id], await db.TemplateVersions.Select(v => v.TemplateId).ToListAsync());
            }
        }
        finally
        {
            foreach (var path in new[] { file, file + "-wal", file + "-shm" })
            {
                File.Delete(path);
            }
        }
    }

    /// <summary>The entity types a context materialized, in order.</summary>
    private sealed class Materialized : IMaterializationInterceptor
    {
        public List<string> Types { get; } = [];

        public object InitializedInstance(MaterializationInterceptionData materializationData, object entity)
        {
            Types.Add(entity.GetType().Name);
            return entity;
        }
    }
}
