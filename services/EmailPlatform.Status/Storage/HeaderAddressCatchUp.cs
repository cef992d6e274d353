using EmailPlatform.ServiceDefaults.Addresses;
using EmailPlatform.ServiceDefaults.Hosting;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace EmailPlatform.Status.Storage;

/// <summary>
/// Writes the <c>header_addresses</c> rows of the emails stored without the recorder writing them, from their stored
/// headers with the recorder's own code (<see cref="HeaderAddresses"/>): the emails the <c>HeaderAddresses</c> migration
/// filled in SQL, which misreads some shapes (a comment, a quoted name holding <c>&lt;…&gt;</c>, upper-case non-ASCII
/// letters on SQLite), and those a status service of an earlier version recorded during a rolling upgrade, which have
/// none. Such an email has <see cref="EmailRecord.HeaderAddressesRecorded"/> false; the catch-up reads those emails
/// alone (through a partial index of them), a batch at a time in id order, and marks each as it is done, so that a
/// restart goes on where it stopped and a caught-up store costs one empty index read.
/// </summary>
/// <remarks>
/// A batch is one short transaction. On PostgreSQL it locks its emails <c>FOR UPDATE SKIP LOCKED</c>: replicas take
/// different emails, the catch-up never waits for the recorder, and an erasure or the recorder that wants one of them
/// waits for that batch only. An email's rows become what its headers name as MimeKit reads them: the missing ones are
/// added (<c>ON CONFLICT DO NOTHING</c>), and one that does not read there (the SQL migration's misreading) is removed,
/// since an erasure looks rows up by the address's key and would leave such a row, address and all, behind. An email
/// whose details have not arrived is left alone: the recorder writes its rows with them. Retention removes bodies, never
/// the headers, so an email whose bodies are gone is read like any other.
/// </remarks>
public sealed class HeaderAddressCatchUp(StatusDbContext db, IOptions<HeaderAddressCatchUpOptions> options)
{
    /// <summary>The emails left to read, in SQL: the filter of their index, which the selection repeats word for word.</summary>
    internal const string PendingSql = "NOT header_addresses_recorded AND accepted_at IS NOT NULL";

    private const string Selection = $$"""SELECT id AS "Value" FROM emails WHERE {{PendingSql}} ORDER BY id LIMIT {0}""";

    /// <summary>Batches until none is left (or the rest are another replica's batches).</summary>
    public async Task<HeaderAddressCatchUpResult> RunAsync(CancellationToken cancellationToken)
    {
        var total = new HeaderAddressCatchUpResult(0, 0, 0);
        HeaderAddressCatchUpResult batch;
        do
        {
            batch = await RunBatchAsync(cancellationToken);
            total = new(total.Emails + batch.Emails, total.Added + batch.Added, total.Removed + batch.Removed);
        }
        while (batch.Emails >= options.Value.BatchSize);
        return total;
    }

    /// <summary>One batch of at most <see cref="HeaderAddressCatchUpOptions.BatchSize"/> emails.</summary>
    public async Task<HeaderAddressCatchUpResult> RunBatchAsync(CancellationToken cancellationToken)
    {
        var postgres = db.Database.IsNpgsql();
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        var ids = await db.Database.SqlQueryRaw<Guid>(postgres ? Selection + " FOR UPDATE SKIP LOCKED" : Selection, options.Value.BatchSize)
            .ToListAsync(cancellationToken);
        if (ids.Count == 0)
        {
            return new(0, 0, 0);
        }

        var emails = await db.Emails.AsNoTracking().Where(e => ids.Contains(e.Id))
            .Select(e => new { e.Id, e.To, e.Cc, e.Bcc, e.ReplyTo, Recipients = e.Recipients.Select(r => r.Address).ToList() })
            .ToListAsync(cancellationToken);
        var stored = await db.HeaderAddresses.AsNoTracking().Where(h => ids.Contains(h.EmailId)).Select(h => new { h.EmailId, h.Address })
            .ToListAsync(cancellationToken);
        var wanted = new HashSet<(Guid EmailId, string Address)>();
        foreach (var email in emails)
        {
            var named = HeaderAddresses.Parse(email.To, email.Cc, email.Bcc, email.ReplyTo);
            foreach (var address in HeaderAddresses.NotRecipients(named.All.Select(AddressKeys.Of), email.Recipients))
            {
                wanted.Add((email.Id, address));
            }
        }

        // What is left of the wanted rows is missing; a stored row not among them is extra.
        var extra = new List<(Guid EmailId, string Address)>();
        foreach (var row in stored)
        {
            if (!wanted.Remove((row.EmailId, row.Address)))
            {
                extra.Add((row.EmailId, row.Address));
            }
        }

        var added = await InsertAsync(postgres, [.. wanted], cancellationToken);
        var removed = 0;
        foreach (var (emailId, address) in extra)
        {
            removed += await db.HeaderAddresses.Where(h => h.EmailId == emailId && h.Address == address).ExecuteDeleteAsync(cancellationToken);
        }

        await db.Emails.Where(e => ids.Contains(e.Id)).ExecuteUpdateAsync(s => s.SetProperty(e => e.HeaderAddressesRecorded, true), cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return new(ids.Count, added, removed);
    }

    private async Task<int> InsertAsync(bool postgres, List<(Guid EmailId, string Address)> rows, CancellationToken cancellationToken)
    {
        if (rows.Count == 0)
        {
            return 0;
        }

        if (postgres)
        {
            Guid[] emailIds = [.. rows.Select(r => r.EmailId)];
            string[] addresses = [.. rows.Select(r => r.Address)];
            return await db.Database.ExecuteSqlAsync(
                $"INSERT INTO header_addresses (email_id, address) SELECT * FROM unnest({emailIds}, {addresses}) ON CONFLICT DO NOTHING",
                cancellationToken);
        }

        var inserted = 0;
        foreach (var (emailId, address) in rows)
        {
            inserted += await db.Database.ExecuteSqlAsync(
                $"INSERT INTO header_addresses (email_id, address) VALUES ({emailId}, {address}) ON CONFLICT DO NOTHING", cancellationToken);
        }

        return inserted;
    }
}

/// <summary>What a catch-up did: the emails it read, and the rows it added and removed.</summary>
public sealed record HeaderAddressCatchUpResult(int Emails, int Added, int Removed);

/// <summary>
/// Runs <see cref="HeaderAddressCatchUp"/> at start and then every <see cref="HeaderAddressCatchUpOptions.Interval"/>,
/// which finds the emails a status service of an earlier version records during a rolling upgrade.
/// </summary>
public sealed class HeaderAddressCatchUpService(
    IServiceScopeFactory scopes, IOptions<HeaderAddressCatchUpOptions> options, ILogger<HeaderAddressCatchUpService> logger) : BackgroundService
{
    protected override Task ExecuteAsync(CancellationToken stoppingToken) => !options.Value.Enabled ? Task.CompletedTask : PeriodicWork.RunAsync(
        async ct =>
        {
            await using var scope = scopes.CreateAsyncScope();
            var result = await scope.ServiceProvider.GetRequiredService<HeaderAddressCatchUp>().RunAsync(ct);
            if (result.Emails > 0)
            {
                Log.CaughtUp(logger, result.Emails, result.Added, result.Removed);
            }
        },
        () => options.Value.Interval,
        ex => Log.CatchUpFailed(logger, ex),
        TimeProvider.System,
        stoppingToken);
}

internal static partial class Log
{
    [LoggerMessage(EventId = 3401, Level = LogLevel.Information,
        Message = "Header address catch-up: {Emails} emails read, {Added} header address rows added, {Removed} removed; caught up")]
    public static partial void CaughtUp(ILogger logger, int emails, int added, int removed);

    [LoggerMessage(EventId = 3402, Level = LogLevel.Error, Message = "Header address catch-up failed; it runs again at the next interval")]
    public static partial void CatchUpFailed(ILogger logger, Exception exception);
}
