using System.Text.Json;
using EmailPlatform.Contracts;
using EmailPlatform.Delivery.Claims;
using EmailPlatform.Delivery.Relays;
using EmailPlatform.Delivery.Storage;
using EmailPlatform.ServiceDefaults.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace EmailPlatform.Delivery.Retries;

/// <summary>
/// Carries out an operator's <see cref="RetryRecipients"/>: a <c>deferred</c> recipient is due now; a <c>failed</c> one
/// gets a new retry window (<c>Delivery:MaxRetryAge</c> from now, the email's own <c>expires_at</c> no longer applying:
/// the operator asked after it) and is due now, provided its content is still kept
/// (<c>Delivery:FailedContentRetention</c>). The retry scheduler then hands them back to the bus like any due retry, and
/// the claims see to it that nothing is sent twice. Delivered, bounced, suppressed, queued and in-flight recipients
/// are left alone. A command already carried out (by <see cref="RetryRecipients.CommandId"/>) does nothing.
/// </summary>
internal sealed class RecipientRetries(
    DeliveryDbContext db,
    IOptions<DeliveryOptions> options,
    TimeProvider time,
    RetrySignal signal,
    ILogger<RecipientRetries> logger)
{
    public async Task RetryAsync(RetryRecipients command, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow().UtcDateTime;
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        if (await db.ProcessedCommands.AnyAsync(c => c.CommandId == command.CommandId, cancellationToken))
        {
            return;
        }

        var wanted = new HashSet<string>(command.Recipients, StringComparer.OrdinalIgnoreCase);
        var records = (await db.Deliveries.Where(d => d.EmailId == command.EmailId).ToListAsync(cancellationToken))
            .Where(r => wanted.Contains(r.Recipient))
            .ToList();
        var stored = await db.RetryMessages.FindAsync([command.EmailId], cancellationToken);
        var contentKept = stored is not null && (stored.KeepUntil is null || stored.KeepUntil > now);

        var due = 0;
        var withoutContent = 0;
        foreach (var record in records)
        {
            switch (record.State)
            {
                case DeliveryState.Deferred:
                    record.DueAt = now;
                    break;
                case DeliveryState.Failed when contentKept:
                    record.State = DeliveryState.Deferred;
                    record.DueAt = now;
                    record.ExpiresAt = now + options.Value.MaxRetryAge;
                    break;
                case DeliveryState.Failed:
                    withoutContent++;
                    continue;
                default:
                    continue;
            }

            record.UpdatedAt = now;
            record.Version++;
            due++;
        }

        if (due > 0 && stored is not null)
        {
            // The email is being retried again: keep its content until it is final once more, and drop the client's
            // deadline, which would otherwise fail the retried recipients at once.
            var original = DeliveryLedger.ReadCommand(stored);
            if (original?.ExpiresAt is not null)
            {
                stored.Command = JsonSerializer.Serialize(original with { ExpiresAt = null }, StoredJson.Options);
            }

            stored.KeepUntil = null;
        }

        db.ProcessedCommands.Add(new ProcessedCommand { CommandId = command.CommandId, EmailId = command.EmailId, ProcessedAt = now });
        try
        {
            await db.SaveChangesAsync(cancellationToken);
            await transaction.CommitAsync(cancellationToken);
        }
        catch (DbUpdateException)
        {
            // A worker recorded an outcome for one of these recipients meanwhile, or a twin of this command won: the
            // consumer's retry starts again from the store.
            db.ChangeTracker.Clear();
            throw;
        }

        Log.RetryRequested(logger, command.EmailId, command.CommandId, due, withoutContent);
        if (due > 0)
        {
            signal.Notify();
        }
    }
}
