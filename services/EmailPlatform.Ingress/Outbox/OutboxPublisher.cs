using System.Diagnostics;
using System.Text.Json;
using EmailPlatform.Contracts;
using MassTransit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace EmailPlatform.Ingress.Outbox;

/// <summary>
/// Moves accepted emails from the outbox onto the bus: publishes <see cref="EmailQueued"/>, then
/// <see cref="SendEmail"/>, waits for the broker's confirms, then marks the rows published in the same
/// transaction that locked them. A crash between confirm and commit publishes the email again, which the
/// consumers tolerate (at-least-once, idempotent). With PostgreSQL, rows are claimed with
/// <c>FOR UPDATE SKIP LOCKED</c>, so several ingress replicas never publish the same batch together.
/// While the broker is down the ingress keeps accepting; this loop backs off and catches up afterwards.
/// </summary>
internal sealed class OutboxPublisher(
    IServiceScopeFactory scopes,
    IBus bus,
    OutboxSignal signal,
    IOptions<OutboxOptions> options,
    TimeProvider clock,
    ILogger<OutboxPublisher> logger) : BackgroundService
{
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(30);
    private readonly OutboxOptions _options = options.Value;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var backoff = TimeSpan.Zero;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var published = await PublishBatchAsync(stoppingToken);
                backoff = TimeSpan.Zero;
                if (published == _options.BatchSize)
                {
                    continue;
                }

                await signal.WaitAsync(_options.PollInterval, stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                backoff = backoff == TimeSpan.Zero ? TimeSpan.FromMilliseconds(250) : TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, MaxBackoff.Ticks));
                Log.PublishFailed(logger, ex, backoff);
                await Task.Delay(backoff, clock, stoppingToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
        }
    }

    internal async Task<int> PublishBatchAsync(CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<IngressDbContext>();
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);

        var batch = await ClaimBatchAsync(db, cancellationToken);
        if (batch.Count == 0)
        {
            return 0;
        }

        using (var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
        {
            timeout.CancelAfter(_options.PublishTimeout);
            await Task.WhenAll(batch.Select(row => PublishAsync(row, timeout.Token)));
        }

        var now = clock.GetUtcNow().UtcDateTime;
        foreach (var row in batch)
        {
            row.PublishedAt = now;
        }

        await db.SaveChangesAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        OutboxTelemetry.Published.Add(batch.Count);
        OutboxTelemetry.RecordLag(now - batch.Min(r => r.AcceptedAt));
        Log.Published(logger, batch.Count);
        return batch.Count;
    }

    private Task<List<OutboxEmail>> ClaimBatchAsync(IngressDbContext db, CancellationToken cancellationToken)
    {
        var size = _options.BatchSize;
        var pending = db.Database.IsNpgsql()
            ? db.OutboxEmails.FromSql(
                $"SELECT * FROM outbox_emails WHERE published_at IS NULL ORDER BY accepted_at LIMIT {size} FOR UPDATE SKIP LOCKED")
            : db.OutboxEmails.Where(e => e.PublishedAt == null).OrderBy(e => e.AcceptedAt).Take(size);
        return pending.ToListAsync(cancellationToken);
    }

    private async Task PublishAsync(OutboxEmail row, CancellationToken cancellationToken)
    {
        var command = JsonSerializer.Deserialize<SendEmail>(row.Payload, OutboxJson.Options)
            ?? throw new InvalidOperationException($"Outbox row {row.Id} has an empty payload.");

        ActivityContext.TryParse(row.TraceParent, null, out var parent);
        using var activity = OutboxTelemetry.Source.StartActivity("outbox publish", ActivityKind.Producer, parent);
        activity?.SetTag("email.id", row.Id);

        // The status service hears of the email before any worker can report an outcome for it.
        await bus.Publish(ToQueued(command, row.Bcc, clock.GetUtcNow()), cancellationToken);
        await bus.Publish(command, cancellationToken);
    }

    private static EmailQueued ToQueued(SendEmail command, IReadOnlyList<string> bcc, DateTimeOffset now) => new(
        EventId: NewId.NextGuid(),
        EmailId: command.EmailId,
        MessageId: command.MessageId,
        From: command.From,
        To: command.To,
        Cc: command.Cc,
        Bcc: bcc,
        ReplyTo: command.ReplyTo,
        Subject: command.Subject,
        Html: command.Html,
        Text: command.Text,
        AttachmentNames: command.Attachments.Select(a => a.Filename).ToList(),
        Tags: command.Tags,
        Metadata: command.Metadata,
        Priority: command.Priority,
        AcceptedAt: command.AcceptedAt,
        Timestamp: now);
}
