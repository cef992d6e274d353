using EmailPlatform.Contracts;
using MassTransit;

namespace EmailPlatform.Delivery.Sending;

/// <summary>Takes a <see cref="SendEmail"/> off the bus and hands it to <see cref="EmailSender"/>.</summary>
internal sealed class SendEmailConsumer(EmailSender sender) : IConsumer<SendEmail>
{
    public Task Consume(ConsumeContext<SendEmail> context) =>
        sender.SendAsync(context.Message, context, context.CancellationToken);
}
