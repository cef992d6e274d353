using EmailPlatform.Contracts;
using EmailPlatform.Delivery.Claims;
using EmailPlatform.Delivery.Relays;
using EmailPlatform.Delivery.Storage;
using EmailPlatform.ServiceDefaults.Messaging;
using EmailPlatform.ServiceDefaults.Storage;
using MassTransit;
using Microsoft.Extensions.Options;

namespace EmailPlatform.Delivery.Sending;

/// <summary>
/// The never-stuck rule: a <see cref="SendEmail"/> that faulted (malformed, or an unexpected error that outlived
/// its retries) still goes to the error queue for a person to look at, and its recipients without an outcome end
/// <c>failed</c> with a reason, so the status API never shows them <c>queued</c> forever. Except when it faulted only
/// because the store stayed out of reach for all of <see cref="StoreOutageRetry.Span"/>: nothing was decided, so
/// nothing fails; the command goes back into its lane to wait for the store again.
/// </summary>
internal sealed class SendEmailFaultConsumer(
    DeliveryLedger ledger, DeliveryMetrics metrics, IOptions<DeliveryOptions> options, ILogger<SendEmailFaultConsumer> logger) : IConsumer<Fault<SendEmail>>
{
    public async Task Consume(ConsumeContext<Fault<SendEmail>> context)
    {
        var email = context.Message.Message;
        if (IsStoreOutage(context.Message.Exceptions))
        {
            await PublishDeadline.RunAsync(options.Value.PublishTimeout, context.CancellationToken,
                token => DeliveryLanes.SendAsync(context, email, token));
            Log.StoreOutageOutlasted(logger, email.EmailId);
            return;
        }

        var malformed = IsMalformed(context.Message.Exceptions);
        var reason = malformed
            ? "The message is malformed and cannot be sent."
            : "The delivery worker could not send the message because of an unexpected error.";
        var (failed, recorded) = await ledger.FailUnfinishedAsync(
            email, DeliveryLedger.RecipientsOf(email), reason, malformed ? FailureKind.Rejected : FailureKind.Fault, context.CancellationToken);

        // Counted once, here, right after the store committed them: a publish that fails below is repeated by the retry
        // policy, or a redelivered fault, which find them already final and publish them without counting. The outcomes
        // recorded before the fault are published again: the fault may be that their publish failed (a deferral's would
        // otherwise be seen only at the next attempt, hours later).
        foreach (var record in failed)
        {
            metrics.RecordOutcome(record, email.Priority);
        }

        foreach (var record in failed.Concat(recorded))
        {
            // Bounded like the sender's publishes (PublishDeadline): a confirm lost with a broker restart would otherwise
            // hold this endpoint's permit for good; the retry policy publishes the recorded outcome again.
            await PublishDeadline.RunAsync(options.Value.PublishTimeout, context.CancellationToken,
                token => RecordedOutcomes.PublishAsync(context, record, token));
        }

        Log.Faulted(logger, email.EmailId, context.Message.Exceptions.FirstOrDefault()?.ExceptionType ?? "unknown", failed.Count);
    }

    /// <summary>Whether the command faulted only because the store could not be reached (see <see cref="SendEmailConsumer{TLane}"/>).</summary>
    internal static bool IsStoreOutage(IEnumerable<ExceptionInfo> exceptions) =>
        exceptions.Select(e => e.ExceptionType).Any(t => t.EndsWith(nameof(StoreUnavailableException), StringComparison.Ordinal));

    /// <summary>
    /// Whether the command itself is bad (it would fail the same way every time). The public reason says only what
    /// kind of failure it was, never the exception's text (that stays in the error queue and logs).
    /// </summary>
    internal static bool IsMalformed(IEnumerable<ExceptionInfo> exceptions) =>
        exceptions.Select(e => e.ExceptionType).Any(t => t.EndsWith(nameof(FormatException), StringComparison.Ordinal)
            || t.EndsWith("ParseException", StringComparison.Ordinal)
            || t.EndsWith(nameof(ArgumentException), StringComparison.Ordinal));
}
