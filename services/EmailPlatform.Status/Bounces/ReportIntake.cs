using EmailPlatform.Status.Retention;
using EmailPlatform.Status.Storage;
using MimeKit;

namespace EmailPlatform.Status.Bounces;

/// <summary>Why a message was not recorded as a report, with what to tell its sender.</summary>
public enum ReportRefusal
{
    /// <summary>It cannot be read as an RFC 5322 message.</summary>
    InvalidMessage,

    /// <summary>
    /// It holds no report of the kind it was handed in as: no delivery status notification (RFC 3464) for a bounce (an
    /// autoresponder, a bounce in prose only, spam), no feedback report (RFC 5965) for a complaint.
    /// </summary>
    NotAReport,

    /// <summary>Nothing in it names an email sent here.</summary>
    UnknownEmail,

    /// <summary>
    /// It names an email accepted within <see cref="ReportedEmails.RecordingGrace"/> that is not recorded here yet (its
    /// events are still on their way, or the status service is behind): to be offered again later, not dropped.
    /// </summary>
    NotRecordedYet,
}

/// <summary>What became of a message handed in as a report: the recorded report, or a refusal and why.</summary>
public sealed record ReportOutcome<TResponse>(TResponse? Recorded, ReportRefusal? Refusal, string? Detail)
    where TResponse : class;

/// <summary>
/// What recording a report that came back by mail takes, whatever its kind (<see cref="BounceReports"/>,
/// <see cref="Complaints.ComplaintReports"/>) and however it arrived: the message read, the email the report names found
/// (<see cref="ReportedEmails"/>) or the report refused, and each message counted once by the kind's metrics. Each kind
/// reads its own report from the message and records it.
/// </summary>
public abstract class ReportIntake<TReport, TResponse>(ReportedEmails emails, ReportMetrics<TResponse> metrics)
    where TReport : class
    where TResponse : class
{
    /// <param name="message">The report as received, headers and all.</param>
    /// <param name="via">How it came (<c>http</c>, <c>smtp</c>), for the metrics.</param>
    public async Task<ReportOutcome<TResponse>> RecordAsync(byte[] message, string via, CancellationToken cancellationToken)
    {
        var (parsed, error) = await ReportBody.ParseAsync(message, cancellationToken);
        return parsed is null
            ? Counted(via, Refused(ReportRefusal.InvalidMessage, error!))
            : await RecordAsync(parsed, message, via, cancellationToken);
    }

    /// <summary>Records a message already parsed (the SMTP listener reads each message once to tell a bounce from a complaint).</summary>
    public async Task<ReportOutcome<TResponse>> RecordAsync(MimeMessage message, byte[] received, string via, CancellationToken cancellationToken) =>
        Counted(via, await ReadAndRecordAsync(message, received, cancellationToken));

    /// <summary>What to tell the sender of a message that holds no report of this kind (<see cref="ReportRefusal.NotAReport"/>).</summary>
    protected abstract string NotAReportDetail { get; }

    /// <summary>The report in <paramref name="message"/>, or null when it holds none of this kind.</summary>
    protected abstract TReport? Read(MimeMessage message);

    /// <summary>What in the report names the email it is about.</summary>
    protected abstract ReportedEmailKeys KeysOf(TReport report);

    /// <summary>
    /// Whether the report names what <paramref name="email"/> cannot answer while only its outcomes are recorded (they
    /// overtook its accept, which brings the rest of its recipients): then, while the email is recent, the report is
    /// refused as <see cref="ReportRefusal.NotRecordedYet"/>, for its sender to offer again, rather than answered with
    /// nothing recorded and dropped.
    /// </summary>
    protected virtual bool AwaitsDetails(TReport report, EmailRecord email) => false;

    /// <summary>
    /// Whether an address a report names (a key) is a recipient <paramref name="email"/> lists: as it is, or as its
    /// placeholder once erased, which counts as known.
    /// </summary>
    protected static bool Lists(EmailRecord email, string address)
    {
        var placeholder = RecipientErasure.PlaceholderFor(address);
        return email.Recipients.Exists(r => r.Address == address || r.Address == placeholder);
    }

    /// <summary>Records the report about <paramref name="email"/>, whose events happened at <paramref name="occurredAt"/>, and answers it.</summary>
    /// <param name="received">The message as received: it tells this report from another when the report has no Message-ID (<see cref="ReportedEmails.ReportKey"/>).</param>
    protected abstract Task<TResponse> RecordReportAsync(TReport report, EmailRecord email, DateTimeOffset occurredAt, byte[] received, CancellationToken cancellationToken);

    private ReportOutcome<TResponse> Counted(string via, ReportOutcome<TResponse> outcome)
    {
        metrics.Received(via, outcome);
        return outcome;
    }

    private async Task<ReportOutcome<TResponse>> ReadAndRecordAsync(MimeMessage message, byte[] received, CancellationToken cancellationToken)
    {
        if (Read(message) is not { } report)
        {
            return Refused(ReportRefusal.NotAReport, NotAReportDetail);
        }

        var keys = KeysOf(report);
        if (await emails.FindAsync(keys, cancellationToken) is not { } email)
        {
            return emails.RecentCandidate(keys) is { } recent
                ? Refused(ReportRefusal.NotRecordedYet, ReportedEmails.NotRecordedYetDetail(recent))
                : Refused(ReportRefusal.UnknownEmail, keys.UnknownEmailDetail());
        }

        if (email.AcceptedAt is null && emails.IsRecent(email.Id) && AwaitsDetails(report, email))
        {
            return Refused(ReportRefusal.NotRecordedYet, ReportedEmails.NotRecordedYetDetail(email.Id));
        }

        return new(await RecordReportAsync(report, email, emails.OccurredAt(message.Date, email), received, cancellationToken), null, null);
    }

    private static ReportOutcome<TResponse> Refused(ReportRefusal refusal, string detail) => new(null, refusal, detail);
}
