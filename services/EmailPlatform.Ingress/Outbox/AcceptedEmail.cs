using EmailPlatform.Contracts;

namespace EmailPlatform.Ingress.Outbox;

/// <summary>
/// An email accepted for sending now, as one outbox row instead of three: the publisher derives its
/// <see cref="EmailAccepted"/> (carrying its <see cref="EmailQueued"/>, <see cref="EmailAccepted.Queued"/>) and its
/// <see cref="SendEmail"/> when it publishes them. The body is
/// stored once and the store writes, locks and marks one row per email. The events' ids are fixed here, at accept, so
/// a row published twice (a crash between the broker's confirm and the commit) repeats the same events, which the
/// status service recognises. A scheduled email keeps three rows: its <see cref="EmailAccepted"/> leaves at once, the
/// rest at its time. When the command's content is in the content store (<see cref="SendEmail.StoredContent"/>),
/// <see cref="Stored"/> keeps what its <see cref="EmailAccepted"/> still tells the status service.
/// </summary>
internal sealed record AcceptedEmail(SendEmail Command, IReadOnlyList<string> Bcc, Guid AcceptedEventId, Guid QueuedEventId, DateTimeOffset Timestamp)
{
    /// <summary>Set when the command's content is stored: the attachments' names, and the bodies when small enough to travel.</summary>
    public StoredSummary? Stored { get; init; }

    /// <summary>The email's accept event: for a scheduled email with its time, for one sent now with its <paramref name="queued"/> event.</summary>
    public EmailAccepted Accepted(DateTimeOffset? scheduledAt = null, EmailQueued? queued = null) => new(
        EventId: AcceptedEventId,
        EmailId: Command.EmailId,
        MessageId: Command.MessageId,
        From: Command.From,
        To: Command.To,
        Cc: Command.Cc,
        Bcc: Bcc,
        ReplyTo: Command.ReplyTo,
        Subject: Command.Subject,
        Html: Stored is null ? Command.Html : Stored.Html,
        Text: Stored is null ? Command.Text : Stored.Text,
        AttachmentNames: Stored?.AttachmentNames ?? Command.Attachments.Select(a => a.Filename).ToList(),
        Tags: Command.Tags,
        Metadata: Command.Metadata,
        Priority: Command.Priority,
        AcceptedAt: Command.AcceptedAt,
        ScheduledAt: scheduledAt,
        Timestamp: Timestamp)
    {
        StoredBody = Stored?.StoredBody,
        Recipients = Command.Envelope.RcptTo,
        Queued = queued,
    };

    public EmailQueued Queued(DateTimeOffset due) => new(QueuedEventId, Command.EmailId, due);

    /// <summary>
    /// What the row stands for, in the order it is announced: the events (the accept with its hand-over to the workers,
    /// one message), then the command.
    /// </summary>
    public IReadOnlyList<(object Message, Type Type)> Messages() =>
        [(Accepted(queued: Queued(Timestamp)), typeof(EmailAccepted)), (Command, typeof(SendEmail))];
}

/// <summary>
/// What an <see cref="EmailAccepted"/> carries of an email whose content is stored: the bodies inline unless they alone
/// are over the inline limit (then <see cref="StoredBody"/> points at them), and the attachments' names.
/// </summary>
internal sealed record StoredSummary(string? Html, string? Text, IReadOnlyList<string> AttachmentNames, StoredContent? StoredBody);
