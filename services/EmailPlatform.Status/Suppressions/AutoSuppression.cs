using EmailPlatform.Status.Storage;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace EmailPlatform.Status.Suppressions;

/// <summary>Suppresses an address, in the recorder's unit of work, when a bounce's enhanced code says it is dead.</summary>
public sealed class AutoSuppression(StatusDbContext db, IOptions<SuppressionOptions> options, TimeProvider clock)
{
    /// <summary>Loads the suppressions of a batch's bounced addresses in one query, before <see cref="OnBounce"/> looks them up.</summary>
    public async Task PrepareAsync(IEnumerable<string> addresses, CancellationToken cancellationToken)
    {
        var wanted = addresses.Distinct(StringComparer.Ordinal).ToArray();
        if (wanted.Length > 0)
        {
            await db.Suppressions.Where(s => wanted.Contains(s.Address)).LoadAsync(cancellationToken);
        }
    }

    /// <summary>
    /// Suppresses the bounced address unless it already is (and has not expired). Looks only at what
    /// <see cref="PrepareAsync"/> loaded and what this unit of work added, so two bounces in one batch add one row.
    /// </summary>
    public void OnBounce(EventRecord bounce)
    {
        if (bounce.Recipient is not { } address || !options.Value.Suppresses(bounce.EnhancedCode))
        {
            return;
        }

        var now = clock.GetUtcNow().UtcDateTime;
        var existing = db.Suppressions.Local.FirstOrDefault(s => s.Address == address);
        if (existing is not null && (existing.ExpiresAt is null || existing.ExpiresAt > now))
        {
            return;
        }

        existing ??= db.Suppressions.Add(new SuppressionRecord { Address = address, Reason = "", Source = SuppressionSources.Bounce, CreatedAt = now }).Entity;
        existing.Reason = $"Hard bounce {bounce.SmtpCode} {bounce.EnhancedCode}: {bounce.SmtpText}".Trim();
        existing.Source = SuppressionSources.Bounce;
        existing.SourceEventId = bounce.Id;
        existing.SourceEmailId = bounce.EmailId;
        existing.EnhancedCode = bounce.EnhancedCode;
        existing.ExpiresAt = null;
        existing.UpdatedAt = now;
    }
}
