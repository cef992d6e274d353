using System.Security.Cryptography;
using System.Text;
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
    /// It names an email accepted within <see cref="BounceReports.RecordingGrace"/> that is not recorded here yet (its
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
/// webhook and, for a hard bounce, the suppression list follow, as for a relay's 5xx. The email is found by the
/// Message-ID the report returns (ours are <c>&lt;email id&gt;@domain</c>), or by the envelope sender it was sent to
/// (<c>Ingress:ReturnPath</c>). The same report recorded again records nothing twice: each recipient's event id is
/// derived from the email, the recipient and the report.
/// </summary>
public sealed class BounceReports(StatusDbContext db, StatusEventWriter writer, TimeProvider clock, BounceMetrics metrics, ILogger<BounceReports> logger)
{
    /// <summary>A report returns the message, attachments and all, at most.</summary>
    public const int MaxReportBytes = 10 * 1024 * 1024;

    /// <summary>
    /// How long after its accept (the time in its version 7 id) an email not recorded here yet may still be, so that a
    /// report naming it is refused for now rather than for good: a bounce can come back within a second of the relay's
    /// 250, before the status service has recorded the accept, and more so while it is behind. After that, the id is one
    /// this platform never sent (or whose email retention removed).
    /// </summary>
    public static readonly TimeSpan RecordingGrace = TimeSpan.FromHours(24);

    /// <param name="message">The report as received, headers and all.</param>
    /// <param name="via">How it came (<c>http</c>, <c>smtp</c>), for the metrics.</param>
    public async Task<BounceReportOutcome> RecordAsync(byte[] message, string via, CancellationToken cancellationToken)
    {
        var outcome = await ReadAndRecordAsync(message, cancellationToken);
        metrics.Received(via, outcome.Refusal);
        return outcome;
    }

    private async Task<BounceReportOutcome> ReadAndRecordAsync(byte[] body, CancellationToken cancellationToken)
    {
        MimeMessage message;
        try
        {
            message = await MimeMessage.LoadAsync(new MemoryStream(body, writable: false), cancellationToken);
        }
        catch (FormatException ex)
        {
            return Refused(BounceRefusal.InvalidMessage, $"The body could not be read as an RFC 5322 message: {ex.Message}");
        }

        if (DeliveryReport.Read(message) is not { } report)
        {
            return Refused(BounceRefusal.NotADeliveryReport,
                "The message holds no multipart/report with a message/delivery-status part (RFC 3464) naming a recipient, so it says nothing that can be recorded; a bounce written only in prose is not read.");
        }

        if (await FindEmailAsync(report, cancellationToken) is not { } email)
        {
            var recent = CandidateIds(report).Where(IsRecent).ToList();
            if (recent.Count > 0)
            {
                return Refused(BounceRefusal.NotRecordedYet,
                    $"Email {recent[0]} was accepted {AcceptedAt(recent[0]):u} and is not recorded here yet; offer the report again later.");
            }

            return Refused(BounceRefusal.UnknownEmail, UnknownEmailDetail(report));
        }

        var now = clock.GetUtcNow();
        var occurredAt = message.Date > DateTimeOffset.MinValue && message.Date <= now ? message.Date : now;
        var reportKey = report.ReportId is { Length: > 0 } reportId ? "id:" + reportId : "sha256:" + Convert.ToHexString(SHA256.HashData(body));
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

            var bounce = new ReportedBounce(EventIdFor(email.Id, address, reportKey), email.Id, address, report.ReportingMta, reported.Status,
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

    private static string UnknownEmailDetail(DeliveryReport report)
    {
        List<string> named =
        [
            .. report.OriginalMessageIds.Select(id => $"Message-ID <{id}>"),
            .. report.ReturnPathEmailIds.Select(id => $"envelope sender of email {id}"),
        ];
        return named.Count == 0
            ? "The report returns neither the message nor its headers, and was not sent to an envelope sender made by Ingress:ReturnPath, so nothing names the email."
            : $"No email sent here is the one the report names ({string.Join(", ", named)}).";
    }

    /// <summary>
    /// The email a report is about: one whose id and Message-ID are those of a Message-ID it names (ours are
    /// <c>&lt;id&gt;@domain</c>); failing that, the one whose envelope sender it was delivered to (<c>Ingress:ReturnPath</c>).
    /// </summary>
    private async Task<EmailRecord?> FindEmailAsync(DeliveryReport report, CancellationToken cancellationToken)
    {
        var byMessageId = ByMessageId(report);
        var ids = CandidateIds(report).ToArray();
        if (ids.Length == 0)
        {
            return null;
        }

        var emails = await db.EmailsWithoutBodies.AsNoTracking().Include(e => e.Recipients).Where(e => ids.Contains(e.Id)).ToListAsync(cancellationToken);
        return byMessageId
            .Select(c => emails.Find(e => e.Id == c.Id
                && (e.MessageId is null || string.Equals(e.MessageId.Trim().Trim('<', '>'), c.MessageId, StringComparison.OrdinalIgnoreCase))))
            .Concat(report.ReturnPathEmailIds.Select(id => emails.Find(e => e.Id == id)))
            .FirstOrDefault(e => e is not null);
    }

    /// <summary>The Message-IDs the report names that are of the form the platform generates (<c>&lt;id&gt;@domain</c>), with that id.</summary>
    private static List<(string MessageId, Guid Id)> ByMessageId(DeliveryReport report) =>
    [
        .. report.OriginalMessageIds
            .Select(id => (MessageId: id, Local: id.Split('@')[0]))
            .Where(c => c.Local.Length == 32 && Guid.TryParseExact(c.Local, "N", out _))
            .Select(c => (c.MessageId, Guid.ParseExact(c.Local, "N"))),
    ];

    /// <summary>Every email id the report may be about: from its Message-IDs, then from the envelope sender it was sent to.</summary>
    private static IEnumerable<Guid> CandidateIds(DeliveryReport report) =>
        ByMessageId(report).Select(c => c.Id).Concat(report.ReturnPathEmailIds).Distinct();

    /// <summary>Whether <paramref name="id"/> is an email id the ingress made (version 7) less than <see cref="RecordingGrace"/> ago.</summary>
    private bool IsRecent(Guid id)
    {
        if (id.Version != 7)
        {
            return false; // the time in another version's bits is no time at all
        }

        var age = clock.GetUtcNow() - AcceptedAt(id);
        return age < RecordingGrace && age > -TimeSpan.FromMinutes(5);
    }

    /// <summary>The time a version 7 id was made: its first 48 bits, milliseconds since the Unix epoch.</summary>
    private static DateTimeOffset AcceptedAt(Guid id)
    {
        Span<byte> bytes = stackalloc byte[16];
        id.TryWriteBytes(bytes, bigEndian: true, out _);
        var milliseconds = 0L;
        foreach (var b in bytes[..6])
        {
            milliseconds = (milliseconds << 8) | b;
        }

        // 48 bits reach past the year 9999: such an id is from no clock.
        return milliseconds <= DateTimeOffset.MaxValue.ToUnixTimeMilliseconds() ? DateTimeOffset.FromUnixTimeMilliseconds(milliseconds) : DateTimeOffset.MaxValue;
    }

    /// <summary>The same for the same email, recipient and report, so that a report recorded again is recorded once (RFC 9562 version 8).</summary>
    internal static Guid EventIdFor(Guid emailId, string recipient, string reportKey)
    {
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes($"bounce-report\n{emailId:N}\n{recipient}\n{reportKey}"), hash);
        var bytes = hash[..16];
        bytes[6] = (byte)((bytes[6] & 0x0F) | 0x80);
        bytes[8] = (byte)((bytes[8] & 0x3F) | 0x80);
        return new Guid(bytes, bigEndian: true);
    }
}
