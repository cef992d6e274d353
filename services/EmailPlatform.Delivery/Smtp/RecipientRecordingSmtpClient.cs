using MailKit.Net.Smtp;
using MimeKit;

namespace EmailPlatform.Delivery.Smtp;

/// <summary>
/// A MailKit <see cref="SmtpClient"/> that records a rejected <c>RCPT TO</c> with the relay's reply instead of
/// throwing, so that a 550 for one recipient bounces only that one and the others are still sent.
/// </summary>
/// <remarks>
/// When every recipient is rejected, MailKit 4.18 calls <see cref="SmtpClient.OnNoRecipientsAccepted"/> (a no-op
/// by default, kept so here), sends <c>RSET</c> and throws its own <see cref="SmtpCommandException"/>
/// (<see cref="SmtpErrorCode.MessageNotAccepted"/>, 554 "No recipients were accepted."). That 554 is MailKit's,
/// not the relay's: <see cref="SmtpRelayClient"/> recognises it because every recipient is already recorded here.
/// </remarks>
internal sealed class RecipientRecordingSmtpClient : SmtpClient
{
    private readonly Dictionary<MailboxAddress, SmtpResponse> _rejected = new(ReferenceEqualityComparer.Instance);

    /// <summary>The recipients the relay refused at <c>RCPT TO</c>, by the mailbox instance passed to SendAsync.</summary>
    public IReadOnlyDictionary<MailboxAddress, SmtpResponse> Rejected => _rejected;

    /// <summary>The relay's refusal of <c>MAIL FROM</c>, if it refused: it then applies to every recipient.</summary>
    /// <remarks>
    /// With PIPELINING the <c>RCPT TO</c>s are sent before the <c>MAIL FROM</c> reply is read, so a relay that refuses
    /// the sender also answers each <c>RCPT TO</c> (typically 503 bad sequence); those replies say nothing about the
    /// recipients and must not be taken as theirs.
    /// </remarks>
    public SmtpResponse? SenderRefusal { get; private set; }

    /// <summary>
    /// The relay answered <c>MAIL FROM</c> (accepted or refused it) in this transaction: the session was alive then. A
    /// fault before that answer, on a connection that was already open, means the relay had closed it.
    /// </summary>
    public bool SenderAnswered { get; private set; }

    /// <summary>Forgets the previous transaction's refusals: a pooled connection carries one message after another.</summary>
    public void BeginTransaction()
    {
        _rejected.Clear();
        SenderRefusal = null;
        SenderAnswered = false;
    }

    /// <summary>Sends <c>RSET</c>: after a refused transaction, the connection starts the next one from a clean state.</summary>
    public Task ResetAsync(CancellationToken cancellationToken) => SendCommandAsync("RSET", cancellationToken);

    protected override void OnSenderAccepted(MimeMessage message, MailboxAddress mailbox, SmtpResponse response)
    {
        SenderAnswered = true;
        base.OnSenderAccepted(message, mailbox, response);
    }

    protected override void OnSenderNotAccepted(MimeMessage message, MailboxAddress mailbox, SmtpResponse response)
    {
        SenderAnswered = true;
        SenderRefusal = response;
        base.OnSenderNotAccepted(message, mailbox, response);
    }

    protected override void OnRecipientNotAccepted(MimeMessage message, MailboxAddress mailbox, SmtpResponse response) =>
        _rejected[mailbox] = response;
}
