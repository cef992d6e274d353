using EmailPlatform.Contracts;

namespace EmailPlatform.Status.Storage;

/// <summary>
/// One accepted email as the status service knows it. An outcome can arrive before the email's
/// <c>EmailQueued</c> event (they travel on different queues); then the row exists with only its id until
/// the details arrive, and <see cref="AcceptedAt"/> is null.
/// </summary>
public sealed class EmailRecord
{
    public Guid Id { get; set; }

    public string? MessageId { get; set; }

    public string? From { get; set; }

    /// <summary>The sender's address alone, lower-cased: what <c>GET /v1/emails?from=</c> matches.</summary>
    public string? FromAddress { get; set; }

    public List<string> To { get; set; } = [];

    public List<string> Cc { get; set; } = [];

    public List<string> Bcc { get; set; } = [];

    public List<string> ReplyTo { get; set; } = [];

    public string? Subject { get; set; }

    public string? Html { get; set; }

    public string? Text { get; set; }

    public List<string> AttachmentNames { get; set; } = [];

    public List<EmailTag> Tags { get; set; } = [];

    public Dictionary<string, string> Metadata { get; set; } = [];

    public EmailPriority Priority { get; set; }

    public DateTime? AcceptedAt { get; set; }

    public DateTime? ScheduledAt { get; set; }

    public EmailState State { get; set; } = EmailState.Queued;

    /// <summary>The W3C trace id (32 hex digits) of the trace the email was accepted in, taken from its <c>EmailAccepted</c>.</summary>
    public string? TraceId { get; set; }

    public DateTime UpdatedAt { get; set; }

    /// <summary>
    /// Whether a complaint is the latest thing that happened to this email, which Resend's <c>last_event</c> shows as
    /// <c>complained</c>: set when one is recorded, cleared when the email's state next changes (another recipient
    /// delivered or bounced later). A complaint is an event, not a state, so <see cref="State"/> alone cannot say it.
    /// </summary>
    public bool LastEventIsComplaint { get; set; }

    /// <summary>
    /// Whether this email's <c>header_addresses</c> rows were written from its headers with MimeKit: by the recorder as it
    /// stores the details, or later by <see cref="HeaderAddressCatchUp"/>. False (the column's default) for an email
    /// stored before the column, or by a status service of a version without it during a rolling upgrade.
    /// </summary>
    public bool HeaderAddressesRecorded { get; set; }

    /// <summary>Optimistic concurrency: the derived state is never computed from a stale set of recipients.</summary>
    public int Version { get; set; }

    public List<RecipientRecord> Recipients { get; set; } = [];
}
