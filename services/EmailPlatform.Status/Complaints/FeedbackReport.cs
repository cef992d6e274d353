using EmailPlatform.Status.Bounces;
using MimeKit;

namespace EmailPlatform.Status.Complaints;

/// <summary>
/// What an Abuse Reporting Format report (RFC 5965: a <c>multipart/report; report-type=feedback-report</c> with a
/// <c>message/feedback-report</c> part) says: what kind of feedback it is (<c>Feedback-Type</c>: <c>abuse</c>,
/// <c>fraud</c>, <c>virus</c>, <c>other</c>; RFC 6650's <c>not-spam</c>; RFC 6591's <c>auth-failure</c>), who wrote it
/// (<c>User-Agent</c>, <c>Reporting-MTA</c>), the recipients it names (<c>Original-Rcpt-To</c>; mailbox providers often
/// leave it out or redact it, and then the returned message's <c>Delivered-To</c>, <c>X-Original-To</c>, <c>To</c> and
/// <c>Cc</c> may name the one who complained), and what names the email: the returned message's Message-ID and
/// <c>X-Email-Id</c>, and the envelope sender it was sent from (<c>Original-Mail-From</c>, the returned message's <c>Return-Path</c>), which
/// <c>Ingress:ReturnPath</c> makes name the email.
/// </summary>
public sealed record FeedbackReport(
    string FeedbackType,
    string? UserAgent,
    string? ReportingMta,
    string? ReportId,
    ReportedEmailKeys Keys,
    IReadOnlyList<string> OriginalRecipients,
    IReadOnlyList<string> DeliveredTo)
{
    /// <summary>
    /// Feedback types that are a recipient's complaint about a message (RFC 5965's registry): anything but
    /// <c>not-spam</c> (the recipient took a message out of the spam folder) and <c>auth-failure</c> (a DMARC/SPF/DKIM
    /// failure report, about the sender's authentication, not from a recipient).
    /// </summary>
    public bool IsComplaint => FeedbackType is not ("not-spam" or "auth-failure");

    /// <summary>Who made the report, for a reason text: its user agent, or failing that its MTA.</summary>
    public string Reporter => UserAgent ?? ReportingMta ?? "a mailbox provider that did not name itself";

    /// <summary>Whether <paramref name="message"/> is a feedback report (holds a <c>multipart/report; report-type=feedback-report</c>).</summary>
    public static bool IsIn(MimeMessage message) => DeliveryReport.Reports(message.Body, "feedback-report").Any();

    /// <summary>The report in <paramref name="message"/>, or null when it holds none.</summary>
    public static FeedbackReport? Read(MimeMessage message)
    {
        var report = DeliveryReport.Reports(message.Body, "feedback-report").FirstOrDefault();
        var part = report?.OfType<MimePart>().FirstOrDefault(p => p.ContentType.IsMimeType("message", "feedback-report"));
        if (report is null || part?.Content is null)
        {
            return null;
        }

        HeaderList fields;
        using (var content = part.Content.Open())
        {
            fields = HeaderList.Load(content);
        }

        // RFC 5965 makes Feedback-Type, User-Agent and Version required; only the type is needed to act on it.
        var feedbackType = fields["Feedback-Type"]?.Trim().ToLowerInvariant();
        if (string.IsNullOrEmpty(feedbackType))
        {
            return null;
        }

        var returned = DeliveryReport.ReturnedHeaders(report).ToList();
        var messageIds = ReportedEmailKeys.MessageIdsIn(returned.Select(h => h[HeaderId.MessageId]).Append(message.InReplyTo).Concat(message.References));
        var returnPathIds = ReportedEmailKeys.ReturnPathIdsIn(
            All(fields, "Original-Mail-From").Concat(returned.SelectMany(h => All(h, "Return-Path"))));
        return new FeedbackReport(
            feedbackType,
            OneLine(fields["User-Agent"]),
            DeliveryReport.Value(fields["Reporting-MTA"]),
            message.MessageId,
            new ReportedEmailKeys(messageIds, ReportedEmailKeys.HeaderIdsIn(returned), returnPathIds),
            Addresses(All(fields, "Original-Rcpt-To")),
            Addresses(returned.SelectMany(h => All(h, "Delivered-To").Concat(All(h, "X-Original-To")))));
    }

    private static IEnumerable<string> All(HeaderList headers, string field) =>
        headers.Where(h => h.Field.Equals(field, StringComparison.OrdinalIgnoreCase)).Select(h => h.Value);

    /// <summary>The addresses in header values (<c>&lt;a@b&gt;</c>, <c>Name &lt;a@b&gt;, c@d</c>); what does not parse is left out.</summary>
    private static List<string> Addresses(IEnumerable<string> values) =>
    [
        .. values.SelectMany(v => InternetAddressList.TryParse(v, out var list) ? list.Mailboxes.Select(m => m.Address) : [])
            .Where(a => a.Contains('@', StringComparison.Ordinal))
            .Distinct(StringComparer.OrdinalIgnoreCase),
    ];

    private static string? OneLine(string? value) =>
        string.IsNullOrWhiteSpace(value) ? null : DeliveryReport.Whitespace.Replace(value, " ").Trim();
}
