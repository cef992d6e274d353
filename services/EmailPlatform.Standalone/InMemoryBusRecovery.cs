using EmailPlatform.Contracts;
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
/// that no consumer had taken yet is gone when the process stops (and so is one being consumed when it is killed). With
/// RabbitMQ the broker keeps them; here, before anything starts, the stores are compared and what was lost is published
/// again from the ingress's outbox (every consumer is idempotent, so a message that was not lost changes nothing):
/// <list type="bullet">
/// <item>an outbox row whose events the status service has not recorded;</item>
/// <item>an outbox row carrying an email's <see cref="SendEmail"/> when no worker has a record of the email (the command
/// never reached one), or when an outcome a worker recorded is missing from the status service (the worker's ledger
/// answers the command again with that recorded outcome, under its original event id, and sends nothing).</item>
/// </list>
/// Only emails the status service does not have in a final state are looked at, and only rows within every store's
/// retention: a row whose worker records were purged (<c>Delivery:RecordRetention</c>) would be sent again, and one
/// whose events were purged (<c>Status:Retention:EventsAfter</c>) recorded again.
/// </summary>
internal sealed class InMemoryBusRecovery(
    IngressDbContext ingress,
    DeliveryDbContext delivery,
    StatusDbContext status,
    IOptions<DeliveryOptions> deliveryOptions,
    IOptions<RetentionOptions> retention,
    TimeProvider time,
    ILogger<InMemoryBusRecovery> logger)
{
    /// <summary>Ids per query: well under SQLite's and PostgreSQL's parameter limits.</summary>
    private const int Chunk = 500;

    /// <summary>Slack on the retention bounds, for clocks and the time between accepting, publishing and recording.</summary>
    private static readonly TimeSpan Margin = TimeSpan.FromHours(1);

    private static readonly EmailState[] Final = Enum.GetValues<EmailState>().Where(s => s.IsTerminal()).ToArray();

    /// <summary>Marks the outbox rows to publish again as unpublished; returns how many.</summary>
    public async Task<int> RecoverAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow().UtcDateTime;
        var publishedAfter = now - deliveryOptions.Value.RecordRetention + Margin;
        var createdAfter = now - retention.Value.EventsAfter + Margin;
        var published = await ingress.OutboxMessages.AsNoTracking()
            .Where(m => m.PublishedAt != null && m.PublishedAt > publishedAfter && m.CreatedAt > createdAfter)
            .Select(m => new { m.Id, m.EmailId })
            .ToListAsync(cancellationToken);

        var unsettled = new HashSet<Guid>(published.Select(m => m.EmailId));
        foreach (var chunk in unsettled.Chunk(Chunk).ToList())
        {
            var final = await status.Emails.Where(e => chunk.Contains(e.Id) && Final.Contains(e.State)).Select(e => e.Id).ToListAsync(cancellationToken);
            unsettled.ExceptWith(final);
        }

        var lost = new List<Guid>();
        foreach (var chunk in published.Where(m => unsettled.Contains(m.EmailId)).Select(m => m.Id).Chunk(Chunk))
        {
            var rows = await ingress.OutboxMessages.AsNoTracking().Where(m => chunk.Contains(m.Id)).ToListAsync(cancellationToken);
            lost.AddRange(await LostAsync(rows, cancellationToken));
        }

        foreach (var chunk in lost.Chunk(Chunk))
        {
            await ingress.OutboxMessages.Where(m => chunk.Contains(m.Id))
                .ExecuteUpdateAsync(set => set.SetProperty(m => m.PublishedAt, (DateTime?)null), cancellationToken);
        }

        if (lost.Count > 0)
        {
            var rows = lost.ToHashSet();
            Log.Recovered(logger, lost.Count, published.Where(m => rows.Contains(m.Id)).Select(m => m.EmailId).Distinct().Count());
        }

        return lost.Count;
    }

    /// <summary>The ids of the rows, all of emails not final at the status service, that hold a lost message.</summary>
    private async Task<List<Guid>> LostAsync(List<OutboxMessage> rows, CancellationToken cancellationToken)
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
            .Select(d => new { d.EmailId, d.OutcomeEventId })
            .ToListAsync(cancellationToken);
        var outcomes = records.Where(d => d.OutcomeEventId is not null).Select(d => d.OutcomeEventId!.Value);
        var events = read.SelectMany(r => r.Messages).Where(m => m is not SendEmail).Select(m => new StatusEvent(m).EventId);
        var wanted = outcomes.Concat(events).Distinct().ToList();
        var recorded = new HashSet<Guid>();
        foreach (var chunk in wanted.Chunk(Chunk))
        {
            recorded.UnionWith(await status.Events.Where(e => chunk.Contains(e.Id)).Select(e => e.Id).ToListAsync(cancellationToken));
        }

        var commandLost = records.GroupBy(d => d.EmailId)
            .Where(email => email.Any(d => d.OutcomeEventId is { } id && !recorded.Contains(id)))
            .Select(email => email.Key)
            .Concat(emailIds.Except(records.Select(d => d.EmailId)))
            .ToHashSet();

        return read
            .Where(r => r.Messages.Any(m => m is SendEmail ? commandLost.Contains(r.Row.EmailId) : !recorded.Contains(new StatusEvent(m).EventId)))
            .Select(r => r.Row.Id)
            .ToList();
    }
}

internal static partial class Log
{
    [LoggerMessage(EventId = 4001, Level = LogLevel.Warning,
        Message = "{Rows} outbox rows of {Emails} emails were published to the in-memory bus and lost when the host stopped; publishing them again")]
    public static partial void Recovered(ILogger logger, int rows, int emails);
}
