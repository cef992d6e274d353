using EmailPlatform.Contracts;
using EmailPlatform.Delivery.Lanes;
using EmailPlatform.ServiceDefaults.Storage;
using MassTransit;

namespace EmailPlatform.Delivery.Sending;

/// <summary>
/// Takes a <see cref="SendEmail"/> off the queue of lane <typeparamref name="TLane"/> and hands it to
/// <see cref="EmailSender"/>. One registration per lane gives each lane its own receive endpoint. A store that cannot
/// be reached is reported as <see cref="StoreUnavailableException"/>, so that a fault says so by its type
/// (<see cref="SendEmailFaultConsumer"/> then fails nothing).
/// </summary>
internal sealed class SendEmailConsumer<TLane>(EmailSender sender) : IConsumer<SendEmail>
    where TLane : IDeliveryLane
{
    public async Task Consume(ConsumeContext<SendEmail> context)
    {
        try
        {
            await sender.SendAsync(context.Message, context, context.CancellationToken);
        }
        catch (Exception ex) when (ex is not StoreUnavailableException && StoreErrors.IsUnavailable(ex))
        {
            throw new StoreUnavailableException(ex);
        }
    }
}
