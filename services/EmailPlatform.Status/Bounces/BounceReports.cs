using EmailPlatform.Status.Recording;
using EmailPlatform.Status.Storage;
using Microsoft.EntityFrameworkCore;
using MimeKit;

namespace EmailPlatform.Status.Bounces;

/// <param name="Result">
/// <c>recorded</c>: the recipient is now <c>bounced</c>; <c>already_recorded</c>: this report was recorded for it before;
/// <c>not_failed</c>: the report says it was delayed, delivered, relayed or expanded, which changes nothing here;
/// <c>not_a_recipient</c>: the email has no such recipient (or no longer: it was erased).
/// </param>
public sealed record BounceRecipientResult(string Email, string Action, string Status, string Result);

public sealed record BounceReportResponse(string Object, Guid EmailId, string? ReportingMta, IReadOnlyList<BounceRecipientResult> Recipients);

/// <summary>Why a message was not recorded as a bounce report, with what to tell its sender.</summary>
public enum BounceRefusal
{
    /// <summary>It cannot be read as an RFC 5322 message.</summary>
    InvalidMessage,

    /// <summary>It holds no delivery status notification: an autoresponder, a bounce in prose only, spam.</summary>
    NotADeliveryReport,

    /// <summary>Nothing in it names an email sent here.</summary>
    UnknownEmail,

    /// <summary>
    /// It names an email accepted within <see cref="ReportedEmails.RecordingGrace"/> that is not recorded here yet (its
    /// events are still on their way, or the status service is behind): to be offered again later, not dropped.
    /// </summary>
    NotRecordedYet,
}

/// <summary>What became of a message handed to <see cref="BounceReports.RecordAsync"/>: the recorded report, or a refusal and why.</summary>
public sealed record BounceReportOutcome(BounceReportResponse? Recorded, BounceRefusal? Refusal, string? Detail);

/// <summary>
/// Records the bounce reports that come back after a relay accepted a message, whichever way they arrive:
/// <c>POST /v1/bounces</c> (<see cref="BouncesEndpoint"/>) or SMTP (<see cref="BounceListener"/>). A relay's 250 only says
/// the relay took the message; the recipient's server may still refuse it and send a delivery status notification (RFC
/// 3464, <see cref="DeliveryReport"/>) to the envelope sender. Each recipient it reports as failed is recorded as a
/// <see cref="ReportedBounce"/> through the status event writer: <c>bounced</c> (replacing <c>delivered</c>), with the
/// reporting MTA, the status code and the remote server's reply; the email's timeline and state, the <c>email.bounced</c>
/// webhook and, for a hard bounce, the suppression list follow, as for a relay's 5xx. The email is found
/// (<see cref="ReportedEmails"/>) by the Message-ID the report returns (ours are <c>&lt;email id&gt;@domain</c>), the
/// returned message's <c>X-Email-Id</c>, or the envelope sender it was sent to (<c>Ingress:ReturnPath</c>). The same report recorded again records nothing twice: each recipient's event id is
/// derived from the email, the recipient and the report.
/// </summary>
public sealed class BounceReports(StatusDbContext db, ReportedEmails emails, StatusEventWriter writer, BounceMetrics metrics, ILogger<BounceReports> logger)
{
    /// <param name="message">The report as received, headers and all.</param>
    /// <param name="via">How it came (<c>http</c>, <c>smtp</c>), for the metrics.</param>
    public async Task<BounceReportOutcome> RecordAsync(byte[] message, string via, CancellationToken cancellationToken)
    {
        var (parsed, error) = await ReportBody.ParseAsync(message, cancellationToken);
        return parsed is null
            ? Counted(via, Refused(BounceRefusal.InvalidMessage, error!))
            : await RecordAsync(parsed, message, via, cancellationToken);
    }

    /// <summary>Records a message already parsed (the SMTP listener reads each message once to tell a bounce from a complaint).</summary>
    public async Task<BounceReportOutcome> RecordAsync(MimeMessage message, byte[] received, string via, CancellationToken cancellationToken) =>
        Counted(via, await ReadAndRecordAsync(message, received, cancellationToken));

    private BounceReportOutcome Counted(string via, BounceReportOutcome outcome)
    {
        metrics.Received(via, outcome.Refusal);
        return outcome;
    }

    private async Task<BounceReportOutcome> ReadAndRecordAsync(MimeMessage message, byte[] body, CancellationToken cancellationToken)
    {
        if (DeliveryReport.Read(message) is not { } report)
        {
            return Refused(BounceRefusal.NotADeliveryReport,
                "The message holds no multipart/report with a message/delivery-status part (RFC 3464) naming a recipient, so it says nothing that can be recorded; a bounce written only in prose is not read.");
        }

        if (await emails.FindAsync(report.Keys, cancellationToken) is not { } email)
        {
            return emails.RecentCandidate(report.Keys) is { } recent
                ? Refused(BounceRefusal.NotRecordedYet, ReportedEmails.NotRecordedYetDetail(recent))
                : Refused(BounceRefusal.UnknownEmail, report.Keys.UnknownEmailDetail());
        }

        var occurredAt = emails.OccurredAt(message.Date);
        var reportKey = ReportedEmails.ReportKey(report.ReportId, body);
        var recipients = email.Recipients.Select(r => r.Address).ToHashSet(StringComparer.Ordinal);
        var bounces = new List<ReportedBounce>();
        var results = new List<(ReportedRecipient Reported, ReportedBounce? Bounce, string? Result)>();
        foreach (var reported in report.Recipients)
        {
            if (!reported.Failed)
            {
                results.Add((reported, null, "not_failed"));
                continue;
            }

            var address = new[] { reported.FinalRecipient, reported.OriginalRecipient }.OfType<string>().Select(AddressKeys.Of).FirstOrDefault(recipients.Contains);
            if (address is null)
            {
                results.Add((reported, null, "not_a_recipient"));
                continue;
            }

            var bounce = new ReportedBounce(ReportedEmails.EventIdFor(EventIdKind, email.Id, address, reportKey), email.Id, address, report.ReportingMta, reported.Status,
                reported.Reply, reported.Diagnostic, occurredAt);
            if (bounces.TrueForAll(b => b.EventId != bounce.EventId))
            {
                bounces.Add(bounce);
            }

            results.Add((reported, bounce, null));
        }

        var eventIds = bounces.Select(b => b.EventId).ToList();
        var before = await db.Events.AsNoTracking().Where(e => eventIds.Contains(e.Id)).Select(e => e.Id).ToListAsync(cancellationToken);
        if (bounces.Count > 0)
        {
            await writer.RecordAsync(bounces, cancellationToken);
        }

        var answer = results.Select(r => new BounceRecipientResult(r.Reported.FinalRecipient, r.Reported.Action, r.Reported.Status,
            r.Result ?? (before.Contains(r.Bounce!.EventId) ? "already_recorded" : "recorded"))).ToList();
        Log.Received(logger, email.Id, report.Recipients.Count, answer.Count(r => r.Result == "recorded"));
        return new BounceReportOutcome(new BounceReportResponse("bounce_report", email.Id, report.ReportingMta, answer), null, null);
    }

    private static BounceReportOutcome Refused(BounceRefusal refusal, string detail) => new(null, refusal, detail);

    /// <summary>What the event ids of bounce reports are derived from first (<see cref="ReportedEmails.EventIdFor"/>).</summary>
    internal const string EventIdKind = "bounce-report";
}
