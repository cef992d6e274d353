namespace EmailPlatform.Delivery.Storage;

/// <summary>Where one recipient of one email stands in this worker's store. Stored by lower-case name.</summary>
internal enum DeliveryState
{
    /// <summary>Claimed by a worker that is sending it now, until <see cref="DeliveryRecord.DueAt"/> (the lease).</summary>
    Sending,

    /// <summary>Handed back to the bus for its next attempt (by the scheduler, or a claim released at shutdown).</summary>
    Queued,

    /// <summary>Waiting for its next attempt at <see cref="DeliveryRecord.DueAt"/>.</summary>
    Deferred,

    Delivered,
    Bounced,
    Failed,

    /// <summary>On the suppression list when it was to be sent: not sent at all. Final.</summary>
    Suppressed,
}

internal static class DeliveryStates
{
    public static bool IsFinal(this DeliveryState state) => state is DeliveryState.Delivered or DeliveryState.Bounced or DeliveryState.Failed or DeliveryState.Suppressed;
}
