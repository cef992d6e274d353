using System.Text.RegularExpressions;
using EmailPlatform.Contracts;
using MimeKit;

namespace EmailPlatform.Status.Bounces;

/// <summary>
/// What a delivery status notification (RFC 3464: a <c>multipart/report</c> with a <c>message/delivery-status</c> part;
/// RFC 6533's <c>message/global-delivery-status</c> too) says: the MTA that wrote it, the Message-IDs that may name the
/// email it is about (the returned message's or its headers', an <c>X-Original-Message-ID</c> field, then the report's own
/// <c>In-Reply-To</c> and <c>References</c>), the email id the returned message carries in its <c>X-Email-Id</c> header,
/// the ids of the emails whose envelope sender it was delivered to
/// (<c>Ingress:ReturnPath</c>, read from <c>X-Original-To</c>, <c>Delivered-To</c>, <c>Envelope-To</c>,
/// <c>X-Envelope-To</c> and <c>To</c>), and one entry per recipient it reports on.
/// </summary>
public sealed record DeliveryReport(
    string? ReportingMta,
    string? ReportId,
    IReadOnlyList<string> OriginalMessageIds,
    IReadOnlyList<Guid> HeaderEmailIds,
    IReadOnlyList<Guid> ReturnPathEmailIds,
    IReadOnlyList<ReportedRecipient> Recipients)
{
    /// <summary>What names the email the report is about.</summary>
    public ReportedEmailKeys Keys => new(OriginalMessageIds, HeaderEmailIds, ReturnPathEmailIds);

    /// <summary>The headers in which MTAs name the address a message was delivered to: here, the envelope sender of the email that bounced.</summary>
    private static readonly string[] DeliveredToHeaders = ["X-Original-To", "Delivered-To", "Envelope-To", "X-Envelope-To", "To"];

    /// <summary>The report in <paramref name="message"/>, or null when it holds none (a reply, an autoresponder, a bounce in prose only).</summary>
    public static DeliveryReport? Read(MimeMessage message)
    {
        var report = Reports(message.Body, "delivery-status", "global-delivery-status").FirstOrDefault();
        if (report is null)
        {
            return null;
        }

        var status = report.OfType<MessageDeliveryStatus>().FirstOrDefault();
        if (status is null || status.StatusGroups.Count == 0)
        {
            return null;
        }

        var perMessage = status.StatusGroups[0];
        var recipients = status.StatusGroups.Skip(1).Select(ReportedRecipient.Read).OfType<ReportedRecipient>().ToList();

        // The returned message's (or its headers'); Gmail names it among the per-message fields too.
        var returned = ReturnedHeaders(report).ToList();
        var ids = ReportedEmailKeys.MessageIdsIn(returned.Select(h => h[HeaderId.MessageId])
            .Append(perMessage["X-Original-Message-ID"])
            .Append(message.InReplyTo)
            .Concat(message.References));
        var returnPathIds = ReportedEmailKeys.ReturnPathIdsIn(DeliveredToHeaders
            .SelectMany(name => message.Headers.Where(h => h.Field.Equals(name, StringComparison.OrdinalIgnoreCase)))
            .Select(h => h.Value));
        return new DeliveryReport(Value(perMessage["Reporting-MTA"]), message.MessageId, ids, ReportedEmailKeys.HeaderIdsIn(returned), returnPathIds, recipients);
    }

    /// <summary>The value after a DSN field's type (<c>dns; mx.example.com</c>, <c>rfc822; user@example.com</c>), unfolded.</summary>
    internal static string? Value(string? field)
    {
        if (string.IsNullOrWhiteSpace(field))
        {
            return null;
        }

        var separator = field.IndexOf(';');
        var value = Whitespace.Replace(separator < 0 ? field : field[(separator + 1)..], " ").Trim();
        return value.Length == 0 ? null : value;
    }

    internal static readonly Regex Whitespace = new(@"\s+", RegexOptions.CultureInvariant);

    /// <summary>Every <c>multipart/report</c> of one of <paramref name="reportTypes"/> in the message, outermost first, not looking inside attached messages.</summary>
    internal static IEnumerable<MultipartReport> Reports(MimeEntity? entity, params string[] reportTypes)
    {
        if (entity is not Multipart multipart)
        {
            yield break;
        }

        if (multipart is MultipartReport report && reportTypes.Contains(report.ReportType, StringComparer.OrdinalIgnoreCase))
        {
            yield return report;
        }

        foreach (var child in multipart)
        {
            foreach (var nested in Reports(child, reportTypes))
            {
                yield return nested;
            }
        }
    }

    /// <summary>
    /// The headers of the message a report returns, whole or as headers only (<c>message/rfc822</c>,
    /// <c>text/rfc822-headers</c>, <c>message/global</c>, <c>message/global-headers</c>).
    /// </summary>
    internal static IEnumerable<HeaderList> ReturnedHeaders(MultipartReport report) =>
        report.OfType<MessagePart>().Select(p => p.Message?.Headers)
            .Concat(report.OfType<MimePart>().Where(p => p.ContentType.IsMimeType("message", "global-headers")).Select(ReadHeaders))
            .OfType<HeaderList>();

    private static HeaderList? ReadHeaders(MimePart part)
    {
        if (part.Content is null)
        {
            return null;
        }

        using var content = part.Content.Open();
        return HeaderList.Load(content);
    }
}

/// <summary>
/// One recipient of a delivery status notification: the address it was finally sent to (<c>Final-Recipient</c>) and the
/// one the sender gave (<c>Original-Recipient</c>, when the report names it), what became of it (<c>Action</c>:
/// failed, delayed, delivered, relayed, expanded), its RFC 3463 status code and, when the reporting MTA had one, the
/// remote server's SMTP reply (<c>Diagnostic-Code: smtp; 550 5.1.1 …</c>).
/// </summary>
public sealed record ReportedRecipient(string FinalRecipient, string? OriginalRecipient, string Action, string Status, SmtpReply? Reply, string? Diagnostic, string? RemoteMta)
{
    public bool Failed => string.Equals(Action, "failed", StringComparison.OrdinalIgnoreCase);

    internal static ReportedRecipient? Read(HeaderList fields)
    {
        var final = DeliveryReport.Value(fields["Final-Recipient"]);
        var action = DeliveryReport.Value(fields["Action"]);
        var status = StatusCode.Match(fields["Status"] ?? "");
        if (final is null || action is null || !status.Success)
        {
            // RFC 3464 makes all three required; a group without them says nothing this service can act on.
            return null;
        }

        var diagnostic = fields["Diagnostic-Code"];
        var text = DeliveryReport.Value(diagnostic);
        return new ReportedRecipient(
            Unbracketed(final),
            DeliveryReport.Value(fields["Original-Recipient"]) is { } original ? Unbracketed(original) : null,
            action.ToLowerInvariant(),
            status.Value,
            diagnostic is not null && text is not null ? SmtpReplyOf(diagnostic, text, status.Value) : null,
            text,
            DeliveryReport.Value(fields["Remote-MTA"]));
    }

    /// <summary>A reply quoted in an <c>smtp</c> diagnostic; its enhanced code, when the reply has none, is the report's status.</summary>
    private static SmtpReply? SmtpReplyOf(string diagnostic, string text, string status)
    {
        if (!diagnostic.TrimStart().StartsWith("smtp", StringComparison.OrdinalIgnoreCase) || SmtpDiagnostic.Match(text) is not { Success: true } reply)
        {
            return null;
        }

        var enhanced = reply.Groups["enhanced"].Success ? reply.Groups["enhanced"].Value : status;
        return new SmtpReply(int.Parse(reply.Groups["code"].Value, System.Globalization.CultureInfo.InvariantCulture), enhanced, reply.Groups["text"].Value.Trim());
    }

    private static string Unbracketed(string address) => address.Trim().TrimStart('<').TrimEnd('>');

    private static readonly Regex StatusCode = new(@"(?<![\d.])[245]\.\d{1,3}\.\d{1,3}(?![\d.])", RegexOptions.CultureInvariant);

    /// <summary><c>550 5.1.1 text</c>, <c>550-5.1.1 text</c> (a multi-line reply joined), or <c>550 text</c>.</summary>
    private static readonly Regex SmtpDiagnostic = new(@"^(?<code>[245]\d\d)(?:[ -]+(?<enhanced>[245]\.\d{1,3}\.\d{1,3})(?![\d.]))?[ -]*(?<text>.*)$",
        RegexOptions.CultureInvariant | RegexOptions.Singleline);
}
