using EmailPlatform.Contracts;
using EmailPlatform.Status.Recording;
using EmailPlatform.Status.Storage;
using EmailPlatform.Status.Suppressions;
using EmailPlatform.Status.Webhooks;
using EmailPlatform.Testing;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.Extensions.Options;

namespace EmailPlatform.Status.Tests.Support;

/// <summary>
/// A migrated status store of its own (a temporary PostgreSQL database or a temporary SQLite file) and a
/// recorder per call on a fresh context, as the consumer's message scope has it.
/// </summary>
internal sealed class StatusStore : IAsyncDisposable
{
    private readonly Func<IInterceptor[], StatusDbContext> _newContext;
    private readonly Func<ValueTask> _dispose;

    private StatusStore(Func<IInterceptor[], StatusDbContext> newContext, Func<ValueTask> dispose)
    {
        _newContext = newContext;
        _dispose = dispose;
    }

    public static async Task<StatusStore> PostgresAsync()
    {
        var database = await TemporaryDatabase.CreateAsync();
        var store = new StatusStore(
            interceptors => new PostgresStatusDbContext(new DbContextOptionsBuilder<PostgresStatusDbContext>()
                .UseNpgsql(database.ConnectionString, o => o.MigrationsHistoryTable(StatusDbContext.MigrationsHistoryTable))
                .UseSnakeCaseNamingConvention()
                .AddInterceptors(interceptors)
                .Options),
            database.DisposeAsync);
        await store.MigrateAsync();
        return store;
    }

    public static async Task<StatusStore> SqliteAsync()
    {
        var file = Path.Combine(Path.GetTempPath(), $"ep-status-{Guid.NewGuid():N}.db");
        var connectionString = new SqliteConnectionStringBuilder { DataSource = file, Pooling = false }.ConnectionString;
        var store = new StatusStore(
            interceptors => new SqliteStatusDbContext(new DbContextOptionsBuilder<SqliteStatusDbContext>()
                .UseSqlite(connectionString, o => o.MigrationsHistoryTable(StatusDbContext.MigrationsHistoryTable))
                .UseSnakeCaseNamingConvention()
                .AddInterceptors(interceptors)
                .Options),
            () =>
            {
                foreach (var path in new[] { file, file + "-wal", file + "-shm" })
                {
                    File.Delete(path);
                }

                return ValueTask.CompletedTask;
            });
        await store.MigrateAsync();
        return store;
    }

    public StatusDbContext NewContext(params IInterceptor[] interceptors) => _newContext(interceptors);

    public Task RecordAsync(EmailAccepted accepted, params IInterceptor[] interceptors) =>
        WithRecorderAsync(r => r.RecordAcceptedAsync(accepted, CancellationToken.None), interceptors);

    public Task RecordAsync(EmailQueued queued, params IInterceptor[] interceptors) =>
        WithRecorderAsync(r => r.RecordQueuedAsync(queued, CancellationToken.None), interceptors);

    public Task RecordAsync(EmailCanceled canceled, params IInterceptor[] interceptors) =>
        WithRecorderAsync(r => r.RecordCanceledAsync(canceled, CancellationToken.None), interceptors);

    public Task RecordAsync(EmailRescheduled rescheduled, params IInterceptor[] interceptors) =>
        WithRecorderAsync(r => r.RecordRescheduledAsync(rescheduled, CancellationToken.None), interceptors);

    /// <summary>Records an outcome the way <see cref="RecipientOutcomeConsumer"/> maps it.</summary>
    public Task RecordAsync(IRecipientOutcome outcome, params IInterceptor[] interceptors) =>
        WithRecorderAsync(r => outcome switch
        {
            EmailDelivered => r.RecordOutcomeAsync(outcome, EmailState.Delivered, null, null, CancellationToken.None),
            EmailDeferred d => r.RecordOutcomeAsync(outcome, EmailState.Deferred, d.Reason, d.NextAttemptAt, CancellationToken.None),
            EmailBounced => r.RecordOutcomeAsync(outcome, EmailState.Bounced, null, null, CancellationToken.None),
            EmailFailed f => r.RecordOutcomeAsync(outcome, EmailState.Failed, f.Reason, null, CancellationToken.None),
            EmailSuppressed s => r.RecordOutcomeAsync(outcome, EmailState.Suppressed, s.Reason, null, CancellationToken.None),
            _ => throw new ArgumentOutOfRangeException(nameof(outcome)),
        }, interceptors);

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

    private async Task MigrateAsync()
    {
        await using var db = NewContext();
        await db.Database.MigrateAsync();
    }

    private async Task WithRecorderAsync(Func<StatusRecorder, Task> record, IInterceptor[] interceptors)
    {
        await using var db = NewContext(interceptors);
        var subscriptions = new WebhookSubscriptionCache(Options.Create(new WebhookOptions()), TimeProvider.System);
        var suppressions = new AutoSuppression(db, Options.Create(new SuppressionOptions()), TimeProvider.System);
        await record(new StatusRecorder(db, TimeProvider.System, new WebhookOutbox(db, subscriptions, TimeProvider.System), suppressions));
    }
}
