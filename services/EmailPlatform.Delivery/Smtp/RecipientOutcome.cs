using EmailPlatform.Contracts;

namespace EmailPlatform.Delivery.Smtp;

internal enum RecipientOutcomeKind
{
    /// <summary>The relay answered 2xx after the final dot.</summary>
    Delivered,

    /// <summary>A 4xx reply or a transport fault: try again later.</summary>
    Deferred,

    /// <summary>A 5xx reply: final for this recipient.</summary>
    Bounced,

    /// <summary>
    /// Cannot be sent at all (an address needing SMTPUTF8 the relay lacks, or content the store no longer has): final,
    /// never retried.
    /// </summary>
    Failed,

    /// <summary>On the suppression list (<see cref="RecipientOutcome.Reason"/> says why): not sent, final.</summary>
    Suppressed,
}

/// <summary>
/// What one SMTP attempt did for one envelope recipient. <see cref="Reply"/> is the relay's answer when
/// there was one; <see cref="Reason"/> says in words why a recipient was not delivered.
/// </summary>
internal sealed record RecipientOutcome(string Recipient, RecipientOutcomeKind Kind, SmtpReply? Reply, string? Reason)
{
    /// <summary>
    /// The relay failed before any mail transaction began (connect, greeting, EHLO, STARTTLS, AUTH): nothing of the
    /// message reached it, so another relay may be tried at once without risking a duplicate.
    /// </summary>
    public bool RelayUnavailable { get; init; }

    /// <summary>
    /// The session with the relay broke (a transport fault) once it was up: counted against the relay's breaker like a
    /// failed connect, whatever the relay had answered before, such as a refusal of another recipient.
    /// </summary>
    public bool SessionBroke { get; init; }

    /// <summary>
    /// The relay refused <c>MAIL FROM</c> for now, for a reason that may be about the sender alone (not a 421 nor a mail
    /// system refusal, which make it <see cref="RelayUnavailable"/>): no mail transaction began, so another relay may be
    /// tried at once without risking a duplicate; the relay answered, so its breaker counts it as working.
    /// </summary>
    public bool SenderRefusedForNow { get; init; }

    /// <summary>
    /// Failed only because the address needs SMTPUTF8, which this relay does not offer: the recipient was left out of the
    /// mail transaction, so another relay may be tried for it without risking a duplicate (at once when no other
    /// recipient went through this relay; see <c>EmailSender</c>).
    /// </summary>
    public bool RelayLacksSmtpUtf8 { get; init; }

    /// <summary>
    /// For <see cref="RecipientOutcomeKind.Deferred"/>: the next attempt is due at once, not after the retry schedule's
    /// interval. Nothing went wrong that time could mend: the recipient was only left out of a transaction that carried
    /// the email's other recipients, for want of SMTPUTF8, and its next attempt takes it alone to a relay that offers it.
    /// </summary>
    public bool RetryAtOnce { get; init; }

    /// <summary>For <see cref="RecipientOutcomeKind.Failed"/>: why (a <see cref="Storage.FailureKind"/>); unsupported when not set.</summary>
    public string? FailedAs { get; init; }
}
