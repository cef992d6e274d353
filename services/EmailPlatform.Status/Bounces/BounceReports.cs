using EmailPlatform.ServiceDefaults.Addresses;
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
    : ReportIntake<DeliveryReport, BounceReportResponse>(emails, metrics)
{
    protected override string NotAReportDetail =>
        "The message holds no multipart/report with a message/delivery-status part (RFC 3464) naming a recipient, so it says nothing that can be recorded; a bounce written only in prose is not read.";

    protected override DeliveryReport? Read(MimeMessage message) => DeliveryReport.Read(message);

    protected override ReportedEmailKeys KeysOf(DeliveryReport report) => report.Keys;

    /// <summary>
    /// A failed recipient the email does not list, even erased (by its placeholder): one whose outcome and details are
    /// both still on their way.
    /// </summary>
    protected override bool AwaitsDetails(DeliveryReport report, EmailRecord email)
    {
        return report.Recipients.Any(r => r.Failed && !Named(r).Any(a => Lists(email, a)));
    }

    protected override async Task<BounceReportResponse> RecordReportAsync(
        DeliveryReport report, EmailRecord email, DateTimeOffset occurredAt, byte[] received, CancellationToken cancellationToken)
    {
        var reportKey = ReportedEmails.ReportKey(report.ReportId, received);
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

            var address = Named(reported).FirstOrDefault(recipients.Contains);
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
        return new BounceReportResponse("bounce_report", email.Id, report.ReportingMta, answer);
    }

    /// <summary>The addresses a report names its recipient by, the final one first.</summary>
    private static IEnumerable<string> Named(ReportedRecipient reported) =>
        new[] { reported.FinalRecipient, reported.OriginalRecipient }.OfType<string>().Select(AddressKeys.Of);

    /// <summary>What the event ids of bounce reports are derived from first (<see cref="ReportedEmails.EventIdFor"/>).</summary>
    internal const string EventIdKind = "bounce-report";
}
