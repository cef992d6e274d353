namespace EmailPlatform.Status.Tests.Support;

/// <summary>
/// Feedback loop reports (RFC 5965, Abuse Reporting Format) in the shapes mailbox providers send them: one that names the
/// recipient and returns the whole message (as Yahoo's and the RFC's own example do), and one that redacts the recipient
/// and returns the headers only, with the recipient's address blanked out (as Microsoft's JMRP does). Line ends are CRLF,
/// as they arrive.
/// </summary>
internal static class ComplaintReports
{
    /// <summary>A report naming the recipient (<c>Original-Rcpt-To</c>) and returning the message, Message-ID and all.</summary>
    /// <param name="to">The returned message's <c>To</c>: every recipient it was addressed to.</param>
    public static string Named(string originalMessageId, string recipient, string? to = null, string feedbackType = "abuse", string reportId = "<arf-1@feedback.mail.example>") => Crlf($$"""
        Return-Path: <>
        From: Feedback Loop <feedbackloop@feedback.mail.example>
        To: fbl@bounce.acme.test
        Date: Sun, 06 Dec 2026 09:30:00 +0000
        Subject: FW: Your receipt
        Message-ID: {{reportId}}
        MIME-Version: 1.0
        Content-Type: multipart/report; report-type=feedback-report;
        	boundary="----=_arf_boundary_1"

        ------=_arf_boundary_1
        Content-Type: text/plain; charset="US-ASCII"
        Content-Transfer-Encoding: 7bit

        This is an email abuse report for an email message received from IP
        198.51.100.7 on Sun, 06 Dec 2026 09:12:44 +0000.

        ------=_arf_boundary_1
        Content-Type: message/feedback-report

        Feedback-Type: {{feedbackType}}
        User-Agent: ExampleMail-FBL/1.0
        Version: 1
        Original-Mail-From: <bounces@acme.test>
        Original-Rcpt-To: <{{recipient}}>
        Arrival-Date: Sun, 06 Dec 2026 09:12:44 +0000
        Reporting-MTA: dns; feedback.mail.example
        Source-IP: 198.51.100.7
        Reported-Domain: acme.test

        ------=_arf_boundary_1
        Content-Type: message/rfc822
        Content-Disposition: inline

        Return-Path: <bounces@acme.test>
        Received: from relay.acme.test (relay.acme.test [198.51.100.7])
        	by mx.mail.example with ESMTPS; Sun, 06 Dec 2026 09:12:44 +0000
        Message-ID: <{{originalMessageId}}>
        From: Acme <noreply@acme.test>
        To: {{to ?? recipient}}
        Subject: Your receipt
        MIME-Version: 1.0
        Content-Type: text/plain; charset=us-ascii

        Thank you for your order.

        ------=_arf_boundary_1--
        """);

    /// <summary>
    /// A report that names no recipient, returns only the headers without a Message-ID, and was sent from the envelope
    /// sender <paramref name="mailFrom"/>.
    /// </summary>
    public static string Redacted(string mailFrom, string to = "redacted@mail.example") => Crlf($$"""
        From: staff@hotmail.example
        To: fbl@bounce.acme.test
        Date: Sun, 06 Dec 2026 11:02:17 -0800
        Subject: complaint about message from 198.51.100.7
        MIME-Version: 1.0
        Content-Type: multipart/report; report-type=feedback-report; boundary="--boundary-jmrp"

        ----boundary-jmrp
        Content-Type: text/plain

        This is an email abuse report for an email message received from IP 198.51.100.7.

        ----boundary-jmrp
        Content-Type: message/feedback-report

        Feedback-Type: abuse
        User-Agent: Hotmail FBL
        Version: 0.1
        Original-Mail-From: <{{mailFrom}}>
        Arrival-Date: Sun, 06 Dec 2026 10:58:01 -0800
        Source-IP: 198.51.100.7

        ----boundary-jmrp
        Content-Type: text/rfc822-headers

        Return-Path: <{{mailFrom}}>
        From: Acme <noreply@acme.test>
        To: {{to}}
        Subject: Your receipt

        ----boundary-jmrp--
        """);

    private static string Crlf(string text) => text.ReplaceLineEndings("\r\n") + "\r\n";
}
