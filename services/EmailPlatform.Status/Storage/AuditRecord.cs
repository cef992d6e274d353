namespace EmailPlatform.Status.Storage;

/// <summary>
/// What an administrator did that must stay on record (an erasure). <see cref="Subject"/> identifies what was
/// acted on without keeping it: for an erased address, the SHA-256 of its key (<see cref="AddressKeys"/>).
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
