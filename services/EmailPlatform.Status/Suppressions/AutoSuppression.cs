using EmailPlatform.Status.Storage;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace EmailPlatform.Status.Suppressions;

/// <summary>
/// Suppresses an address, in the recorder's unit of work, when a bounce's enhanced code says it is dead or its recipient
/// complained about an email.
/// </summary>
public sealed class AutoSuppression(StatusDbContext db, IOptions<SuppressionOptions> options, TimeProvider clock)
{
    // What PrepareAsync loaded and OnBounce added, by address: DbSet.Local would compare every tracked row first.
    private readonly Dictionary<string, SuppressionRecord> _known = new(StringComparer.Ordinal);

    /// <summary>Loads the suppressions of a batch's bounced and complaining addresses in one query, before <see cref="OnBounce"/> and <see cref="OnComplaint"/> look them up.</summary>
    public async Task PrepareAsync(IEnumerable<string> addresses, CancellationToken cancellationToken)
    {
        _known.Clear();
        var wanted = addresses.Distinct(StringComparer.Ordinal).ToArray();
        if (wanted.Length > 0)
        {
            foreach (var suppression in await db.Suppressions.Where(s => wanted.Contains(s.Address)).ToListAsync(cancellationToken))
            {
                _known[suppression.Address] = suppression;
            }
        }
    }

    /// <summary>
    /// Suppresses the bounced address for good unless it already is. A suppression that expires (or has expired) is
    /// made permanent, with the bounce as its reason and source: the address is dead, and would otherwise be sent to
    /// again after the expiry. One without an expiry keeps the reason it was given. Looks only at what
    /// <see cref="PrepareAsync"/> loaded and what this unit of work added, so two bounces in one batch add one row.
    /// </summary>
    public void OnBounce(EventRecord bounce)
    {
        if (bounce.Recipient is not { } address || !options.Value.Suppresses(bounce.EnhancedCode))
        {
            return;
        }

        Suppress(address, bounce, SuppressionSources.Bounce, $"Hard bounce {bounce.SmtpCode} {bounce.EnhancedCode}: {bounce.SmtpText}".Trim());
    }

    /// <summary>
    /// Suppresses the address of a recipient who complained, for good, as <see cref="OnBounce"/> does: whoever marks an
    /// email as spam wants no more of them, and mailbox providers count every further one against the sender.
    /// </summary>
    public void OnComplaint(EventRecord complaint)
    {
        if (complaint.Recipient is { } address)
        {
            Suppress(address, complaint, SuppressionSources.Complaint, complaint.Reason ?? "Complaint.");
        }
    }

    private void Suppress(string address, EventRecord source, string kind, string reason)
    {
        var now = clock.GetUtcNow().UtcDateTime;
        var existing = _known.GetValueOrDefault(address);
        if (existing is { ExpiresAt: null })
        {
            return;
        }

        existing ??= _known[address] = db.Suppressions.Add(new SuppressionRecord { Address = address, Reason = "", Source = kind, CreatedAt = now }).Entity;
        existing.Reason = reason;
        existing.Source = kind;
        existing.SourceEventId = source.Id;
        existing.SourceEmailId = source.EmailId;
        existing.EnhancedCode = source.EnhancedCode;
        existing.ExpiresAt = null;
        existing.UpdatedAt = now;
    }
}
