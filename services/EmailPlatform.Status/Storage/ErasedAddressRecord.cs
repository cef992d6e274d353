using EmailPlatform.Status.Retention;

namespace EmailPlatform.Status.Storage;

/// <summary>
/// An address erased (<see cref="RecipientErasure"/>) and when, kept as the SHA-256 of its key, as the audit record keeps
/// it: the emails accepted before that moment whose details or outcomes the recorder meets only afterwards (they were
/// on their way: in the ingress's outbox during a broker outage, or in a backlog) are recorded with the address's
/// placeholder, so the erasure covers them too. Erased again, the moment is the later one.
/// </summary>
public sealed class ErasedAddressRecord
{
    /// <summary>Lower-case hex SHA-256 of the address's key (<see cref="RecipientErasure.HashOf"/>).</summary>
    public required string Hash { get; set; }

    public DateTime ErasedAt { get; set; }
}
