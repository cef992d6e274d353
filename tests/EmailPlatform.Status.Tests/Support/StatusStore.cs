using EmailPlatform.Contracts;
using EmailPlatform.Status.Recording;
using EmailPlatform.Status.Storage;
using EmailPlatform.Status.Suppressions;
using EmailPlatform.Status.Webhooks;
using EmailPlatform.Testing;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;
using Microsoft.Extensions.Options;

namespace EmailPlatform.Status.Tests.Support;

/// <summary>
/// A migrated status store of its own (a temporary PostgreSQL database or a temporary SQLite file) and a
/// recorder per call on a fresh context, as the consumer's message scope has it.
/// </summary>
internal sealed class StatusStore : IAsyncDisposable
{
    private readonly Func<IInterceptor[], StatusDbContext> _newContext;
    private readonly Func<StatusDbContext> _newEarlierContext;
    private readonly Func<ValueTask> _dispose;

    private StatusStore(
        Func<IInterceptor[], StatusDbContext> newContext, Func<StatusDbContext> newEarlierContext, Func<ValueTask> dispose, string? postgres = null)
    {
        _newContext = newContext;
        _newEarlierContext = newEarlierContext;
        _dispose = dispose;
        PostgresConnectionString = postgres;
    }

    /// <summary>
    /// A query that takes the first rows of an unordered result reads whichever rows the store returns first; EF Core
    /// only logs a warning about it, which the tests make an error.
    /// </summary>
    private static void ThrowOnUnorderedLimits(WarningsConfigurationBuilder warnings) =>
        warnings.Throw(CoreEventId.FirstWithoutOrderByAndFilterWarning, CoreEventId.RowLimitingOperationWithoutOrderByWarning);

    /// <summary>The temporary database's connection string (PostgreSQL stores only).</summary>
    public string? PostgresConnectionString { get; }

    /// <param name="migration">The migration to stop at (for a test of what a later one does to the rows before it); by default the last.</param>
    public static async Task<StatusStore> PostgresAsync(string? migration = null)
    {
        var database = await TemporaryDatabase.CreateAsync();
        var store = new StatusStore(
            interceptors => new PostgresStatusDbContext(new DbContextOptionsBuilder<PostgresStatusDbContext>()
                .UseNpgsql(database.ConnectionString, o => o.MigrationsHistoryTable(StatusDbContext.MigrationsHistoryTable))
                .UseSnakeCaseNamingConvention()
                .AddInterceptors(interceptors)
                .ConfigureWarnings(ThrowOnUnorderedLimits)
                .Options),
            () => new EarlierPostgresContext(new DbContextOptionsBuilder<EarlierPostgresContext>()
                .UseNpgsql(database.ConnectionString).UseSnakeCaseNamingConvention().Options),
            database.DisposeAsync,
            database.ConnectionString);
        await store.MigrateAsync(migration);
        return store;
    }

    /// <param name="migration">The migration to stop at; by default the last.</param>
    public static async Task<StatusStore> SqliteAsync(string? migration = null)
    {
        var file = Path.Combine(Path.GetTempPath(), $"ep-status-{Guid.NewGuid():N}.db");
        var connectionString = new SqliteConnectionStringBuilder { DataSource = file, Pooling = false }.ConnectionString;
        var store = new StatusStore(
            interceptors => new SqliteStatusDbContext(new DbContextOptionsBuilder<SqliteStatusDbContext>()
                .UseSqlite(connectionString, o => o.MigrationsHistoryTable(StatusDbContext.MigrationsHistoryTable))
                .UseSnakeCaseNamingConvention()
                .AddInterceptors(interceptors)
                .ConfigureWarnings(ThrowOnUnorderedLimits)
                .Options),
            () => new EarlierSqliteContext(new DbContextOptionsBuilder<EarlierSqliteContext>()
                .UseSqlite(connectionString).UseSnakeCaseNamingConvention().Options),
            () =>
            {
                foreach (var path in new[] { file, file + "-wal", file + "-shm" })
                {
                    File.Delete(path);
                }

                return ValueTask.CompletedTask;
            });
        await store.MigrateAsync(migration);
        return store;
    }

    public StatusDbContext NewContext(params IInterceptor[] interceptors) => _newContext(interceptors);

    /// <summary>
    /// A context with the model of a status service from before <c>emails.header_addresses_recorded</c>, whose inserts do
    /// not name that column (nor the later <c>last_event_is_complaint</c>): how a replica of that version writes during a rolling upgrade, and how rows are added to a
    /// store migrated only up to a migration before that column.
    /// </summary>
    public StatusDbContext NewEarlierContext() => _newEarlierContext();

    /// <summary>Records one event in a transaction of its own, as a batch of one.</summary>
    public Task RecordAsync(object message, params IInterceptor[] interceptors) =>
        WithRecorderAsync(r => r.RecordAsync(message, CancellationToken.None), interceptors);

    /// <summary>Records the events as one batch, in the order given, as the writer hands them to the recorder.</summary>
    public Task RecordBatchAsync(params object[] messages) =>
        WithRecorderAsync(r => r.RecordAsync([.. messages.Select(m => new StatusEvent(m))], CancellationToken.None), []);

    /// <summary>Records one event as a batch of one, and returns the emails the recorder's context held afterwards, as it held them.</summary>
    public async Task<IReadOnlyList<EmailRecord>> RecordAndHeldEmailsAsync(object message)
    {
        await using var db = NewContext();
        await NewRecorder(db).RecordAsync(message, CancellationToken.None);
        return [.. db.ChangeTracker.Entries<EmailRecord>().Select(e => e.Entity)];
    }

    public async Task<EmailRecord?> FindEmailAsync(Guid emailId)
    {
        await using var db = NewContext();
        return await db.Emails.AsNoTracking().Include(e => e.Recipients).SingleOrDefaultAsync(e => e.Id == emailId);
    }

    public async Task<EmailRecord> EmailAsync(Guid emailId) =>
        await FindEmailAsync(emailId) ?? throw new InvalidOperationException($"Email {emailId} is not stored.");

    public async Task<List<EventRecord>> EventsAsync(Guid emailId)
    {
        await using var db = NewContext();
        var events = await db.Events.AsNoTracking().Where(e => e.EmailId == emailId).ToListAsync();
        return [.. events.OrderBy(e => e.OccurredAt).ThenBy(e => e.RecordedAt)];
    }

    public async Task<int> CountRecipientsAsync(Guid emailId)
    {
        await using var db = NewContext();
        return await db.Recipients.CountAsync(r => r.EmailId == emailId);
    }

    public async ValueTask DisposeAsync()
    {
        SqliteConnection.ClearAllPools();
        await _dispose();
    }

    /// <summary>Applies the migrations up to <paramref name="migration"/>, by default all of them.</summary>
    public async Task MigrateAsync(string? migration = null)
    {
        await using var db = NewContext();
        await db.GetService<IMigrator>().MigrateAsync(migration);
    }

    private async Task WithRecorderAsync<T>(Func<StatusRecorder, Task<T>> record, IInterceptor[] interceptors)
    {
        await using var db = NewContext(interceptors);
        await record(NewRecorder(db));
    }

    private static StatusRecorder NewRecorder(StatusDbContext db)
    {
        var webhookOptions = Options.Create(new WebhookOptions());
        var suppressions = new AutoSuppression(db, Options.Create(new SuppressionOptions()), TimeProvider.System);
        return new StatusRecorder(db, TimeProvider.System, new WebhookOutbox(db, webhookOptions, TimeProvider.System), suppressions);
    }
}

/// <summary>
/// The model without <see cref="EmailRecord.HeaderAddressesRecorded"/> and the columns added after it
/// (<see cref="EmailRecord.LastEventIsComplaint"/>) (<see cref="StatusStore.NewEarlierContext"/>); one type per provider,
/// since EF caches a model per type.
/// </summary>
internal sealed class EarlierPostgresContext(DbContextOptions<EarlierPostgresContext> options) : StatusDbContext(options)
{
    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        base.OnModelCreating(modelBuilder);
        modelBuilder.Entity<EmailRecord>().Ignore(e => e.HeaderAddressesRecorded).Ignore(e => e.LastEventIsComplaint);
    }
}

/// <inheritdoc cref="EarlierPostgresContext"/>
internal sealed class EarlierSqliteContext(DbContextOptions<EarlierSqliteContext> options) : StatusDbContext(options)
{
    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        base.OnModelCreating(modelBuilder);
        modelBuilder.Entity<EmailRecord>().Ignore(e => e.HeaderAddressesRecorded).Ignore(e => e.LastEventIsComplaint);
    }
}
