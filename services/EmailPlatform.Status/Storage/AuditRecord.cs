using EmailPlatform.ServiceDefaults.Addresses;

namespace EmailPlatform.Status.Storage;

/// <summary>
/// What must stay on record: what an administrator did (an erasure, a bulk operation, disabling or re-enabling a webhook
/// subscription) and what the service did on its own (disabling a subscription that keeps failing: no <see cref="Actor"/>).
/// <see cref="Subject"/> identifies what was acted on without keeping it: for an erased address, the SHA-256 of its key
/// (<see cref="AddressKeys"/>); for a subscription, its id.
/// </summary>
public sealed class AuditRecord
{
    public Guid Id { get; set; }

    public required string Action { get; set; }

    public required string Subject { get; set; }

    public string? Actor { get; set; }

    public DateTime OccurredAt { get; set; }

    /// <summary>JSON: what was touched (counts).</summary>
    public required string Details { get; set; }
}
