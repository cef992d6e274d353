using EmailPlatform.Contracts;
using MailKit.Net.Smtp;
using MimeKit;

namespace EmailPlatform.Delivery.Smtp;

/// <summary>One envelope recipient as sent: the address as the envelope had it, and the mailbox given to MailKit.</summary>
internal readonly record struct SmtpRecipient(string Address, MailboxAddress Mailbox);

/// <summary>Builds the per-recipient outcomes of one SMTP attempt from what the relay answered.</summary>
internal static class RecipientOutcomes
{
    /// <summary>
    /// Every recipient gets the reply to a command that covered them all (the final dot, MAIL FROM, DATA),
    /// except those the relay already refused at <c>RCPT TO</c>: their own reply stands.
    /// </summary>
    public static IReadOnlyList<RecipientOutcome> FromReply(
        IReadOnlyList<SmtpRecipient> recipients,
        IReadOnlyDictionary<MailboxAddress, SmtpResponse> rejected,
        SmtpReply reply,
        SmtpStage stage) =>
        recipients.Select(r => rejected.TryGetValue(r.Mailbox, out var rcpt)
                ? Classified(r.Address, ToReply(rcpt), SmtpStage.RcptTo)
                : Classified(r.Address, reply, stage))
            .ToList();

    /// <summary>A refusal of the whole transaction (MAIL FROM): it applies to every recipient.</summary>
    public static IReadOnlyList<RecipientOutcome> AllFromReply(IReadOnlyList<SmtpRecipient> recipients, SmtpReply reply, SmtpStage stage) =>
        recipients.Select(r => Classified(r.Address, reply, stage)).ToList();

    /// <summary>
    /// A transport fault or a session-level refusal: nothing final was said about the recipients, so they are
    /// deferred, except those already refused at <c>RCPT TO</c>, whose reply stands.
    /// </summary>
    public static IReadOnlyList<RecipientOutcome> Deferred(
        IReadOnlyList<SmtpRecipient> recipients,
        IReadOnlyDictionary<MailboxAddress, SmtpResponse> rejected,
        SmtpReply? reply,
        string reason) =>
        recipients.Select(r => rejected.TryGetValue(r.Mailbox, out var rcpt)
                ? Classified(r.Address, ToReply(rcpt), SmtpStage.RcptTo)
                : new RecipientOutcome(r.Address, RecipientOutcomeKind.Deferred, reply, reason))
            .ToList();

    /// <summary>The relay refused every <c>RCPT TO</c>: each recipient gets its own reply.</summary>
    public static IReadOnlyList<RecipientOutcome> AllRefusedAtRcptTo(
        IReadOnlyList<SmtpRecipient> recipients, IReadOnlyDictionary<MailboxAddress, SmtpResponse> rejected) =>
        recipients.Select(r => Classified(r.Address, ToReply(rejected[r.Mailbox]), SmtpStage.RcptTo)).ToList();

    /// <summary>The recipients cannot be sent at all (no reply involved): <see cref="RecipientOutcomeKind.Failed"/>.</summary>
    public static IReadOnlyList<RecipientOutcome> Failed(IEnumerable<SmtpRecipient> recipients, string reason) =>
        recipients.Select(r => new RecipientOutcome(r.Address, RecipientOutcomeKind.Failed, null, reason)).ToList();

    public static SmtpReply ToReply(SmtpResponse response) =>
        SmtpReplyClassifier.ToReply((int)response.StatusCode, response.Response);

    private static RecipientOutcome Classified(string recipient, SmtpReply reply, SmtpStage stage)
    {
        var kind = SmtpReplyClassifier.Classify(reply);
        var reason = kind == RecipientOutcomeKind.Delivered ? null : $"The relay answered {reply.Code} to {stage.Describe()}.";
        return new RecipientOutcome(recipient, kind, reply, reason);
    }
}
