using EmailPlatform.Delivery.Storage;

namespace EmailPlatform.Delivery.Claims;

/// <summary>
/// What claiming an email's recipients gave: those this worker now sends (<see cref="ToSend"/>, each with its attempt
/// number), those whose outcome is already recorded (<see cref="AlreadyRecorded"/>: re-published, not sent again), and
/// those failed just now because the email's <c>ExpiresAt</c> had passed when it arrived (<see cref="Expired"/>: to
/// publish, never sent). Recipients another worker is sending right now are in none.
/// </summary>
internal sealed record Claim(Guid ClaimId, IReadOnlyList<DeliveryRecord> ToSend, IReadOnlyList<DeliveryRecord> AlreadyRecorded)
{
    public IReadOnlyList<DeliveryRecord> Expired { get; init; } = [];

    /// <summary>
    /// The email had no records before this claim: every record of it is this claim's, tracked by the same store
    /// context, and no command of it can have been kept yet, so recording the outcome needs no further lookups.
    /// </summary>
    public bool Fresh { get; init; }

    /// <summary>When the claim was taken (UTC): the lease runs from here until renewed (<see cref="ClaimLease"/>).</summary>
    public DateTime ClaimedAt { get; init; }
}
