using EmailPlatform.Contracts;
using EmailPlatform.Delivery.Lanes;
using MassTransit;

namespace EmailPlatform.Delivery.Sending;

/// <summary>
/// Takes a <see cref="SendEmail"/> off the queue of lane <typeparamref name="TLane"/> and hands it to
/// <see cref="EmailSender"/>. One registration per lane gives each lane its own receive endpoint.
/// </summary>
internal sealed class SendEmailConsumer<TLane>(EmailSender sender) : IConsumer<SendEmail>
    where TLane : IDeliveryLane
{
    public Task Consume(ConsumeContext<SendEmail> context) =>
        sender.SendAsync(context.Message, context, context.CancellationToken);
}
