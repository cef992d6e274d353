using EmailPlatform.Contracts;

namespace EmailPlatform.Delivery.Smtp;

/// <summary>
/// What one SMTP attempt needs besides the message and its envelope: whose email it is, the priority it waits for a
/// pooled connection with, and what to do right before the mail transaction starts (<c>MAIL FROM</c>).
/// </summary>
/// <param name="EmailId">The email, for logs and spans.</param>
/// <param name="Priority">The lane: a freed connection goes to the highest priority waiting.</param>
internal sealed record SmtpAttempt(Guid EmailId, EmailPriority Priority = EmailPriority.Normal)
{
    /// <summary>
    /// Waits for the relay's turn to take a message (its <c>MaxMessagesPerSecond</c>), once a connection to it is in hand
    /// and before the transaction: a message still waiting for a connection holds no token, so that tokens do not pile up
    /// in waiting messages while connections are what is short, to be spent all at once, far over the limit, when
    /// connections free up.
    /// </summary>
    public Func<Relays.RelayOptions, CancellationToken, ValueTask>? WaitForRelay { get; init; }

    /// <summary>
    /// Runs after a connection is ready and before <c>MAIL FROM</c>: the worker renews its claim there, because the wait
    /// for a connection or a rate limit may have used up much of the lease. Throwing
    /// <see cref="Claims.ClaimLostException"/> abandons the attempt with nothing sent.
    /// </summary>
    public Func<CancellationToken, Task>? BeforeTransaction { get; init; }

    /// <summary>
    /// Runs when a relay took no mail transaction of this attempt (it refused <c>MAIL FROM</c> as unauthenticated, or the
    /// fresh connection that replaced a stale one could not connect) and the next relay is to be tried: whatever
    /// <see cref="BeforeTransaction"/> took for that transaction is given back before the next connection is waited for.
    /// </summary>
    public Action? NothingSent { get; init; }
}
