using EmailPlatform.ServiceDefaults.Addresses;
using EmailPlatform.Status.Bounces;
using EmailPlatform.Status.Recording;
using EmailPlatform.Status.Retention;
using EmailPlatform.Status.Storage;
using Microsoft.EntityFrameworkCore;
using MimeKit;

namespace EmailPlatform.Status.Complaints;

/// <param name="Recipient">The recipient who complained, or null when the report does not say which of several it was.</param>
/// <param name="Result">
/// <c>recorded</c>; <c>already_recorded</c>: this report was recorded before; <c>not_a_complaint</c>: its feedback type
/// (<c>not-spam</c>, <c>auth-failure</c>) is no complaint, and nothing was recorded.
/// </param>
public sealed record ComplaintReportResponse(
    string Object, Guid EmailId, string FeedbackType, string? UserAgent, string? ReportingMta, string? Recipient, bool Suppressed, string Result);

/// <summary>
/// Records the complaints that mailbox providers send through their feedback loops (Yahoo's, Microsoft's JMRP, those of
/// the providers behind Validity's universal loop, …) when a recipient marks an email as spam, whichever way they arrive:
/// <c>POST /v1/complaints</c> (<see cref="ComplaintsEndpoint"/>) or the status service's SMTP listener
/// (<see cref="BounceListener"/>). The report (<see cref="FeedbackReport"/>) names the email as a bounce does
/// (<see cref="ReportedEmails"/>: the returned message's Message-ID or <c>X-Email-Id</c>, or the envelope sender
/// <c>Ingress:ReturnPath</c> made); the recipient is the one it names (<see cref="WhoComplained"/>). The complaint is an <c>email.complained</c> event
/// (<see cref="ReportedComplaint"/>), with its webhook, and a suppression of the address for good. Its event id is derived
/// from the email and the report alone, not from the recipient found, which can change between two hand-ins of a
/// redacted report (another recipient's outcome recorded meanwhile), so that the same report handed in twice records once.
/// </summary>
public sealed class ComplaintReports(StatusDbContext db, ReportedEmails emails, StatusEventWriter writer, ComplaintMetrics metrics, ILogger<ComplaintReports> logger)
    : ReportIntake<FeedbackReport, ComplaintReportResponse>(emails, metrics)
{
    /// <summary>What the event ids of complaint reports are derived from first (<see cref="ReportedEmails.EventIdFor"/>).</summary>
    internal const string EventIdKind = "complaint-report";

    protected override string NotAReportDetail =>
        "The message holds no multipart/report with a message/feedback-report part (RFC 5965, the Abuse Reporting Format of feedback loops), so it says nothing that can be recorded.";

    protected override FeedbackReport? Read(MimeMessage message) => FeedbackReport.Read(message);

    protected override ReportedEmailKeys KeysOf(FeedbackReport report) => report.Keys;

    /// <summary>
    /// An email known so far only by some recipients' outcomes lists those recipients alone, so only a complaint that
    /// names one of them (<c>Original-Rcpt-To</c>, <c>Delivered-To</c>) can be told apart: who the message reached would
    /// pick one of the known few for a recipient not listed yet.
    /// </summary>
    protected override bool AwaitsDetails(FeedbackReport report, EmailRecord email)
    {
        if (!report.IsComplaint)
        {
            return false;
        }

        // In the order WhoComplained reads them: the first that names anyone decides (Original-Rcpt-To naming one not
        // listed yet is not overruled by a Delivered-To naming a listed one).
        var named = new[] { report.OriginalRecipients, report.DeliveredTo }.FirstOrDefault(n => n.Count > 0);
        return named is null || !named.Select(AddressKeys.Of).Any(a => Lists(email, a));
    }

    protected override async Task<ComplaintReportResponse> RecordReportAsync(
        FeedbackReport report, EmailRecord email, DateTimeOffset occurredAt, byte[] received, CancellationToken cancellationToken)
    {
        var recipient = WhoComplained(report, email);
        if (!report.IsComplaint)
        {
            return Answer(email, report, recipient, suppressed: false, "not_a_complaint");
        }

        var complaint = new ReportedComplaint(
            ReportedEmails.EventIdFor(EventIdKind, email.Id, "", ReportedEmails.ReportKey(report.ReportId, received)),
            email.Id, recipient, report.FeedbackType, report.ReportingMta, report.Reporter, occurredAt);
        // The same report handed in again is answered as it was recorded, whoever it would point at now.
        var before = await db.Events.AsNoTracking().Where(e => e.Id == complaint.EventId).Select(e => new { e.Recipient }).SingleOrDefaultAsync(cancellationToken);
        if (before is null)
        {
            await writer.RecordAsync([complaint], cancellationToken);
        }
        else
        {
            recipient = before.Recipient is { } address && !RecipientErasure.IsPlaceholder(address) ? address : null;
        }

        Log.Received(logger, email.Id, report.FeedbackType, before is not null);
        return Answer(email, report, recipient, suppressed: recipient is not null, before is not null ? "already_recorded" : "recorded");
    }

    /// <summary>
    /// The recipient the report is about: the one it names (<c>Original-Rcpt-To</c>), or the mailbox the returned message
    /// was delivered to, or the only one the email may have reached; null when the report leaves it open (providers redact
    /// the address). Not the returned message's <c>To</c> and <c>Cc</c>: every recipient's copy carries the same ones, so
    /// the one recipient they name is no likelier to have complained than a <c>Bcc</c> recipient they do not.
    /// </summary>
    internal static string? WhoComplained(FeedbackReport report, EmailRecord email)
    {
        // An erased recipient's placeholder is no address to suppress, nor one a report can name.
        var recipients = email.Recipients.Select(r => r.Address).Where(a => !RecipientErasure.IsPlaceholder(a)).ToHashSet(StringComparer.Ordinal);
        List<string> Named(IEnumerable<string> addresses) => [.. addresses.Select(AddressKeys.Of).Where(recipients.Contains).Distinct()];

        foreach (var named in new[] { Named(report.OriginalRecipients), Named(report.DeliveredTo) })
        {
            if (named.Count == 1)
            {
                return named[0];
            }
        }

        // Only a recipient the message may have reached can complain about it: not one it bounced for, nor one canceled, nor
        // one suppressed at its first attempt. Every other may have got it, delivered or not as recorded so far: a deferral
        // after the relay received the whole message (an unknown outcome), a delivery still on its way here, a failure or a
        // suppression on a retry after one of those; an erased recipient too, though it is never the one named. The report
        // is pinned on a recipient only when no other could have sent it.
        var reachable = email.Recipients.Where(MayHaveReceived).Select(r => r.Address).ToList();
        return reachable.Count == 1 && recipients.Contains(reachable[0]) ? reachable[0] : null;
    }

    private static bool MayHaveReceived(RecipientRecord recipient) => recipient.State switch
    {
        EmailState.Bounced or EmailState.Canceled => false,
        EmailState.Suppressed => recipient.Attempt > 1,
        _ => true,
    };

    private static ComplaintReportResponse Answer(EmailRecord email, FeedbackReport report, string? recipient, bool suppressed, string result) =>
        new("complaint_report", email.Id, report.FeedbackType, report.UserAgent, report.ReportingMta, recipient, suppressed, result);
}
