using EmailPlatform.Contracts;
using MassTransit;

namespace EmailPlatform.Delivery.Sending;

/// <summary>Takes a <see cref="SendEmail"/> off the bus and hands it to <see cref="EmailSender"/>.</summary>
internal sealed class SendEmailConsumer(EmailSender sender) : IConsumer<SendEmail>
{
    public Task Consume(ConsumeContext<SendEmail> context) =>
        // Attempts count broker redeliveries; an in-process retry after an unexpected error is the same attempt.
        sender.SendAsync(context.Message, context.GetRedeliveryCount() + 1, context, context.CancellationToken);
}
