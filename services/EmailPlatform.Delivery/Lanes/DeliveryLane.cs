using EmailPlatform.Contracts;

namespace EmailPlatform.Delivery.Lanes;

/// <summary>
/// A priority lane as a type, so that each lane is its own consumer registration and so its own receive endpoint
/// (<see cref="Sending.SendEmailConsumer{TLane}"/>) with its own concurrency, through MassTransit's
/// <c>ConfigureEndpoints</c> on every transport.
/// </summary>
internal interface IDeliveryLane
{
    static abstract EmailPriority Priority { get; }
}

internal sealed class HighLane : IDeliveryLane
{
    public static EmailPriority Priority => EmailPriority.High;
}

internal sealed class NormalLane : IDeliveryLane
{
    public static EmailPriority Priority => EmailPriority.Normal;
}

internal sealed class BulkLane : IDeliveryLane
{
    public static EmailPriority Priority => EmailPriority.Bulk;
}
