using EmailPlatform.Status.Storage;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace EmailPlatform.Status.Suppressions;

/// <summary>Suppresses an address, in the recorder's unit of work, when a bounce's enhanced code says it is dead.</summary>
public sealed class AutoSuppression(StatusDbContext db, IOptions<SuppressionOptions> options, TimeProvider clock)
{
    public async Task OnBounceAsync(EventRecord bounce, CancellationToken cancellationToken)
    {
        if (bounce.Recipient is not { } address || !options.Value.Suppresses(bounce.EnhancedCode))
        {
            return;
        }

        var now = clock.GetUtcNow().UtcDateTime;
        var existing = await db.Suppressions.SingleOrDefaultAsync(s => s.Address == address, cancellationToken);
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
