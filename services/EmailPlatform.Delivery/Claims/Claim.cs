using EmailPlatform.Delivery.Storage;

namespace EmailPlatform.Delivery.Claims;

/// <summary>
/// What claiming an email's recipients gave: those this worker now sends (<see cref="ToSend"/>, each with its attempt
/// number) and those whose outcome is already recorded (<see cref="AlreadyRecorded"/>: re-published, not sent again).
/// Recipients another worker is sending right now are in neither.
/// </summary>
internal sealed record Claim(Guid ClaimId, IReadOnlyList<DeliveryRecord> ToSend, IReadOnlyList<DeliveryRecord> AlreadyRecorded);
