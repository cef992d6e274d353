namespace EmailPlatform.Delivery.Claims;

/// <summary>
/// The worker's claim lapsed and someone else took the recipients over (another worker, or the retry scheduler
/// handing them back) before this worker started the mail transaction: it must not send them.
/// </summary>
internal sealed class ClaimLostException(Guid emailId)
    : Exception($"The claim on email {emailId} lapsed and was taken over before the mail transaction began.");
