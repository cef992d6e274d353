namespace EmailPlatform.Delivery.Storage;

/// <summary>
/// Why a recipient ended <see cref="DeliveryState.Failed"/>, as the <c>emailplatform.reason</c> tag of the
/// <c>emailplatform.failed</c> counter. Not stored: the event's reason text is what the status API shows.
/// </summary>
internal static class FailureKind
{
    /// <summary>The retry window (<c>Delivery:MaxRetryAge</c>) or the email's own <c>expires_at</c> passed.</summary>
    public const string Expired = "expired";

    /// <summary>The command was malformed and is never sent.</summary>
    public const string Rejected = "rejected";

    /// <summary>The command faulted on an unexpected error after its retries.</summary>
    public const string Fault = "fault";

    /// <summary>No relay can carry it (an address needs SMTPUTF8 the relay lacks).</summary>
    public const string Unsupported = "unsupported";

    /// <summary>The message content was gone: the worker no longer kept it for a retry, or the content store no longer had it.</summary>
    public const string Lost = "lost";
}
