using EmailPlatform.Contracts;
using EmailPlatform.Delivery.Claims;
using EmailPlatform.Delivery.Relays;
using EmailPlatform.Delivery.Storage;
using EmailPlatform.Ingress.Outbox;
using EmailPlatform.Ingress.Storage;
using EmailPlatform.Status.Recording;
using EmailPlatform.Status.Retention;
using EmailPlatform.Status.Storage;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace EmailPlatform.Standalone;

/// <summary>
/// The in-memory bus keeps nothing across a stop: a message the outbox published, or an outcome a worker published,
/// that no consumer had taken yet is gone when the process stops, and so is one being consumed when the process is
/// killed. With RabbitMQ the broker keeps them (and gives an unacknowledged one again); here, before anything starts,
/// the stores are compared and what was lost is put back:
/// <list type="bullet">
/// <item>an outbox row whose events the status service has not recorded is published again;</item>
/// <item>an outbox row carrying an email's <see cref="SendEmail"/> is published again when no worker has a record of the
/// email (the command never reached one), or when an outcome a worker recorded is missing from the status service (the
/// worker's ledger answers the command with that recorded outcome, under its original event id, and sends nothing);</item>
/// <item>a command a worker was sending when the process was killed (its claim left, no command kept for the
/// scheduler, as a broker's redelivery would have kept it) is kept for the scheduler, which hands it back once the
/// claim lapses;</item>
/// <item>recipients handed back without an outcome (queued, unclaimed, their command kept), by a worker that stopped
/// before sending them or by the scheduler, are made due now: the hand-back waited <c>Delivery:RequeueAfter</c> for the
/// bus to bring the command first, which it no longer can.</item>
/// </list>
/// Every consumer is idempotent, so a message that was not lost changes nothing. Only emails the status service does not
/// have in a final state, or whose command a worker keeps (an operator's retry of a failed one), are looked at, and only
/// rows created within every store's retention: an email whose worker records were purged (<c>Delivery:RecordRetention</c>)
/// would be sent again, and one whose events were purged (<c>Status:Retention:EventsAfter</c>) recorded again. Operator
/// commands (bulk retry and cancel) not yet published at a stop wait in <c>bulk_commands</c> and go out after the start;
/// one published but not yet taken by its consumer is not recovered.
/// <para>
/// That window is of rows that became due (<see cref="OutboxMessage.AvailableAt"/>: a scheduled email's command is
/// written at the accept but goes out up to 30 days later, and its records and events are younger than that), and it
/// is measured back from the last moment the host ran (<see cref="HostActivity"/>), not from this start: the purges
/// run only while the host runs, so a week with the laptop off deletes nothing, and the mail a stop before it lost is
/// still recovered. The records of an email whose command is published again are kept one more
/// <c>Delivery:RecordRetention</c> from now, so that the first clean-up after the start cannot delete them before
/// the command comes back and have it sent twice.
/// </para>
/// </summary>
internal sealed class InMemoryBusRecovery(
    IngressDbContext ingress,
    DeliveryDbContext delivery,
    StatusDbContext status,
    IOptions<DeliveryOptions> deliveryOptions,
    IOptions<RetentionOptions> retention,
    StandaloneOptions standalone,
    TimeProvider time,
    ILogger<InMemoryBusRecovery> logger)
{
    /// <summary>Ids per query: well under SQLite's and PostgreSQL's parameter limits.</summary>
    private const int Chunk = 500;

    /// <summary>Slack on the retention bounds, for clocks and the time between accepting, sending and recording.</summary>
    private static readonly TimeSpan Margin = TimeSpan.FromHours(1);

    private static readonly EmailState[] Final = Enum.GetValues<EmailState>().Where(s => s.IsTerminal()).ToArray();

    /// <summary>
    /// Puts back what the last stop lost; returns the number of outbox rows published again, of commands kept and of
    /// recipients whose hand-back was made due.
    /// </summary>
    public async Task<(int Republished, int Kept, int Due)> RecoverAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow().UtcDateTime;
        var due = await HandBacksDueNowAsync(now, cancellationToken);
        // A row is published once due, and any worker record or event of what it carries is written after that, so
        // both are younger than its AvailableAt. A purge deleted only what was older than its own time less the
        // retention, and purges ran at the latest when the host last ran; without that moment (a first start, or a
        // host that could not record it) this start's time is the safe bound.
        var lastActive = HostActivity.LastActive(standalone.LastActiveFile) ?? now;
        var shortest = deliveryOptions.Value.RecordRetention < retention.Value.EventsAfter ? deliveryOptions.Value.RecordRetention : retention.Value.EventsAfter;
        var dueAfter = lastActive - shortest + Margin;
        var published = await ingress.OutboxMessages.AsNoTracking()
            .Where(m => m.PublishedAt != null && m.AvailableAt > dueAfter)
            .Select(m => new { m.Id, m.EmailId })
            .ToListAsync(cancellationToken);

        var candidates = new HashSet<Guid>(published.Select(m => m.EmailId));
        var kept = new HashSet<Guid>();
        foreach (var chunk in candidates.Chunk(Chunk).ToList())
        {
            var final = await status.Emails.Where(e => chunk.Contains(e.Id) && Final.Contains(e.State)).Select(e => e.Id).ToListAsync(cancellationToken);
            kept.UnionWith(await delivery.RetryMessages.Where(m => chunk.Contains(m.EmailId)).Select(m => m.EmailId).ToListAsync(cancellationToken));
            candidates.ExceptWith(final.Except(kept));
        }

        var republish = new List<Guid>();
        var keep = new List<RetryMessage>();
        foreach (var chunk in published.Where(m => candidates.Contains(m.EmailId)).Select(m => m.Id).Chunk(Chunk))
        {
            var rows = await ingress.OutboxMessages.AsNoTracking().Where(m => chunk.Contains(m.Id)).ToListAsync(cancellationToken);
            var (lost, orphaned) = await LostAsync(rows, kept, cancellationToken);
            republish.AddRange(lost);
            keep.AddRange(orphaned.Select(o => DeliveryLedger.Kept(o.Command, now, o.TraceParent)));
        }

        foreach (var chunk in republish.Chunk(Chunk))
        {
            await ingress.OutboxMessages.Where(m => chunk.Contains(m.Id))
                .ExecuteUpdateAsync(set => set.SetProperty(m => m.PublishedAt, (DateTime?)null), cancellationToken);
        }

        var republished = republish.ToHashSet();
        var republishedEmails = published.Where(m => republished.Contains(m.Id)).Select(m => m.EmailId).Distinct().ToList();
        foreach (var chunk in republishedEmails.Chunk(Chunk))
        {
            await KeepRecordsAsync(chunk, now, cancellationToken);
        }

        delivery.RetryMessages.AddRange(keep);
        await delivery.SaveChangesAsync(cancellationToken);

        if (republish.Count > 0 || keep.Count > 0 || due > 0)
        {
            Log.Recovered(logger, republish.Count, republishedEmails.Count, keep.Count, due);
        }

        return (republish.Count, keep.Count, due);
    }

    /// <summary>
    /// Restarts the retention of the final records of emails whose command goes out again: the ledger answers that
    /// command from them, and after a long stop the scheduler's first clean-up would otherwise delete them first. The
    /// outcome's time is kept (an outcome event carries <c>OutcomeAt</c>, or <c>UpdatedAt</c> without it).
    /// </summary>
    private Task<int> KeepRecordsAsync(Guid[] emailIds, DateTime now, CancellationToken cancellationToken) =>
        delivery.Deliveries
            .Where(d => emailIds.Contains(d.EmailId) && d.DueAt == null && d.UpdatedAt < now)
            .ExecuteUpdateAsync(set => set
                .SetProperty(d => d.OutcomeAt, d => d.OutcomeAt ?? d.UpdatedAt)
                .SetProperty(d => d.UpdatedAt, now)
                .SetProperty(d => d.Version, d => d.Version + 1), cancellationToken);

    /// <summary>
    /// Makes due now the recipients handed back to a bus that lost the command: queued, unclaimed, waiting for a time
    /// to come, with their command kept for the scheduler. (A recipient queued with nothing kept waits for a claim's
    /// command instead, and is left to <see cref="LostAsync"/>.)
    /// </summary>
    private Task<int> HandBacksDueNowAsync(DateTime now, CancellationToken cancellationToken) =>
        delivery.Deliveries
            .Where(d => d.State == DeliveryState.Queued && d.ClaimId == null && d.DueAt > now && delivery.RetryMessages.Any(m => m.EmailId == d.EmailId))
            .ExecuteUpdateAsync(set => set
                .SetProperty(d => d.DueAt, now)
                .SetProperty(d => d.UpdatedAt, now)
                .SetProperty(d => d.Version, d => d.Version + 1), cancellationToken);

    /// <summary>
    /// Among <paramref name="rows"/> (of emails not final at the status service, or with a kept command), the ids of
    /// those holding a lost message, and the commands whose send was cut short without a command kept (with the trace of
    /// the request that accepted them, which their retries join).
    /// </summary>
    private async Task<(List<Guid> Lost, List<(SendEmail Command, string? TraceParent)> Orphaned)> LostAsync(
        List<OutboxMessage> rows, HashSet<Guid> kept, CancellationToken cancellationToken)
    {
        var read = new List<(OutboxMessage Row, IReadOnlyList<object> Messages)>(rows.Count);
        foreach (var row in rows)
        {
            try
            {
                read.Add((row, OutboxMessageTypes.Read(row).Select(m => m.Message).ToList()));
            }
            catch (Exception ex) when (ex is InvalidOperationException or System.Text.Json.JsonException or NotSupportedException or ArgumentException)
            {
                // The publisher parks such a row when it meets it; it was never published as it stands.
            }
        }

        var emailIds = read.Select(r => r.Row.EmailId).Distinct().ToList();
        var records = await delivery.Deliveries.AsNoTracking().Where(d => emailIds.Contains(d.EmailId))
            .Select(d => new { d.EmailId, d.State, d.OutcomeEventId })
            .ToListAsync(cancellationToken);
        var outcomes = records.Where(d => d.OutcomeEventId is not null).Select(d => d.OutcomeEventId!.Value);
        var events = read.SelectMany(r => r.Messages).Where(m => m is not SendEmail).Select(m => new StatusEvent(m).EventId);
        var wanted = outcomes.Concat(events).Distinct().ToList();
        var recorded = new HashSet<Guid>();
        foreach (var chunk in wanted.Chunk(Chunk))
        {
            recorded.UnionWith(await status.Events.Where(e => chunk.Contains(e.Id)).Select(e => e.Id).ToListAsync(cancellationToken));
        }

        var byEmail = records.GroupBy(d => d.EmailId).ToDictionary(g => g.Key, g => g.ToList());
        var commandLost = emailIds.Where(id => !byEmail.TryGetValue(id, out var email) || email.Any(d => d.OutcomeEventId is { } e && !recorded.Contains(e))).ToHashSet();
        // Sending (or handed back) with nothing kept for the scheduler: a consume cut short by a kill.
        var cutShort = byEmail.Where(email => !kept.Contains(email.Key) && email.Value.Any(d => !d.State.IsFinal()) && !commandLost.Contains(email.Key))
            .Select(email => email.Key).ToHashSet();

        var lost = read
            .Where(r => r.Messages.Any(m => m is SendEmail ? commandLost.Contains(r.Row.EmailId) : !recorded.Contains(new StatusEvent(m).EventId)))
            .Select(r => r.Row.Id)
            .ToList();
        var orphaned = read.SelectMany(r => r.Messages.OfType<SendEmail>().Select(c => (Command: c, r.Row.TraceParent)))
            .Where(o => cutShort.Remove(o.Command.EmailId))
            .ToList();
        return (lost, orphaned);
    }
}

/// <summary>The standalone host's own log events: ids 8000–8099, apart from the services' it hosts.</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 8001, Level = LogLevel.Warning,
        Message = "The in-memory bus lost messages at the last stop: {Rows} outbox rows of {Emails} emails published again, {Kept} commands cut short kept for the retry scheduler, {Due} recipients handed back made due now")]
    public static partial void Recovered(ILogger logger, int rows, int emails, int kept, int due);
}
