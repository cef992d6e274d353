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
    /// Runs after a connection is ready and before <c>MAIL FROM</c>: the worker renews its claim there, because the wait
    /// for a connection or a rate limit may have used up much of the lease. Throwing
    /// <see cref="Claims.ClaimLostException"/> abandons the attempt with nothing sent.
    /// </summary>
    public Func<CancellationToken, Task>? BeforeTransaction { get; init; }
}
