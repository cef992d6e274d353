using System.Text.Json.Nodes;
using EmailPlatform.Ingress.Reads;
using EmailPlatform.Ingress.Storage;
using EmailPlatform.Status.Reads;

namespace EmailPlatform.Standalone;

/// <summary>
/// The status service's reads fall back to the ingress's outbox for an email accepted a moment ago, as the ingress's
/// own forwarding does in distributed mode (<see cref="PendingEmails"/>).
/// </summary>
internal sealed class OutboxPendingEmails(IngressDbContext db, TimeProvider clock) : IPendingEmails
{
    public async Task<object?> FindAsync(Guid id, JsonObject? recorded, CancellationToken cancellationToken) =>
        await PendingEmails.FindAsync(db, id, clock, cancellationToken) is not { } accepted ? null
        : recorded is null ? accepted
        : PendingEmails.Merge(accepted, recorded);
}
