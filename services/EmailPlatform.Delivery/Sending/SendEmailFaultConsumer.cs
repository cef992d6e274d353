using EmailPlatform.Contracts;
using EmailPlatform.Delivery.Claims;
using MassTransit;

namespace EmailPlatform.Delivery.Sending;

/// <summary>
/// The never-stuck rule: a <see cref="SendEmail"/> that faulted (malformed, or an unexpected error that outlived
/// its retries) still goes to the error queue for a person to look at, and its recipients without an outcome end
/// <c>failed</c> with a reason, so the status API never shows them <c>queued</c> forever.
/// </summary>
internal sealed class SendEmailFaultConsumer(DeliveryLedger ledger, ILogger<SendEmailFaultConsumer> logger) : IConsumer<Fault<SendEmail>>
{
    public async Task Consume(ConsumeContext<Fault<SendEmail>> context)
    {
        var email = context.Message.Message;
        var reason = ReasonFor(context.Message.Exceptions);
        var records = await ledger.FailUnfinishedAsync(email, DeliveryLedger.RecipientsOf(email), reason, context.CancellationToken);

        foreach (var record in records)
        {
            await RecordedOutcomes.PublishAsync(context, record, context.CancellationToken);
        }

        Log.Faulted(logger, email.EmailId, context.Message.Exceptions.FirstOrDefault()?.ExceptionType ?? "unknown", records.Count);
    }

    /// <summary>A public reason: what kind of failure, never the exception's text (that stays in the error queue and logs).</summary>
    internal static string ReasonFor(IEnumerable<ExceptionInfo> exceptions)
    {
        var types = exceptions.Select(e => e.ExceptionType).ToList();
        return types.Any(t => t.EndsWith(nameof(FormatException), StringComparison.Ordinal)
                || t.EndsWith("ParseException", StringComparison.Ordinal)
                || t.EndsWith(nameof(ArgumentException), StringComparison.Ordinal))
            ? "The message is malformed and cannot be sent."
            : "The delivery worker could not send the message because of an unexpected error.";
    }
}
