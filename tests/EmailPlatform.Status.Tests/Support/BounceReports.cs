namespace EmailPlatform.Status.Tests.Support;

/// <summary>
/// Delivery status notifications in the shapes three common MTAs write them: Postfix (the returned headers as
/// <c>text/rfc822-headers</c>, diagnostics folded over lines), Microsoft 365 (an HTML explanation, <c>Original-Recipient</c>
/// before <c>Final-Recipient</c>, the whole message returned as <c>message/rfc822</c>) and Gmail (a reply quoted from a
/// multi-line SMTP answer, the Message-ID among the per-message fields too). Line ends are CRLF, as they arrive.
/// </summary>
internal static class BounceReports
{
    /// <summary>One recipient group of a report.</summary>
    public sealed record Group(string Recipient, string Action, string Status, string? Diagnostic = null, string? OriginalRecipient = null);

    public static string Postfix(string originalMessageId, params Group[] groups) => Crlf($$"""
        Return-Path: <>
        Received: by mx.example.net (Postfix) id 4F2A1C0042; Sat,  5 Dec 2026 10:15:02 +0000 (UTC)
        Date: Sat,  5 Dec 2026 10:15:02 +0000 (UTC)
        From: MAILER-DAEMON@mx.example.net (Mail Delivery System)
        Subject: Undelivered Mail Returned to Sender
        To: bounces@acme.test
        Auto-Submitted: auto-replied
        MIME-Version: 1.0
        Content-Type: multipart/report; report-type=delivery-status;
        	boundary="4F2A1C0042.1796465702/mx.example.net"
        Content-Transfer-Encoding: 8bit
        Message-Id: <20261205101502.4F2A1C0042@mx.example.net>

        This is a MIME-encapsulated message.

        --4F2A1C0042.1796465702/mx.example.net
        Content-Description: Notification
        Content-Type: text/plain; charset=us-ascii

        This is the mail system at host mx.example.net.

        I'm sorry to have to inform you that your message could not
        be delivered to one or more recipients. It's attached below.

        --4F2A1C0042.1796465702/mx.example.net
        Content-Description: Delivery report
        Content-Type: message/delivery-status

        Reporting-MTA: dns; mx.example.net
        X-Postfix-Queue-ID: 4F2A1C0042
        X-Postfix-Sender: rfc822; bounces@acme.test
        Arrival-Date: Sat,  5 Dec 2026 10:15:01 +0000 (UTC)
        {{string.Join("\n", groups.Select(PostfixGroup))}}

        --4F2A1C0042.1796465702/mx.example.net
        Content-Description: Undelivered Message Headers
        Content-Type: text/rfc822-headers

        Return-Path: <bounces@acme.test>
        Received: from relay.acme.test (relay.acme.test [198.51.100.7])
        	by mx.example.net (Postfix) with ESMTPS id 4F2A1C0042
        	for <{{groups[0].Recipient}}>; Sat,  5 Dec 2026 10:15:01 +0000 (UTC)
        Message-ID: <{{originalMessageId}}>
        From: Acme <noreply@acme.test>
        To: {{groups[0].Recipient}}
        Subject: Your receipt
        MIME-Version: 1.0

        --4F2A1C0042.1796465702/mx.example.net--
        """);

    public static string Microsoft365(string originalMessageId, string recipient, string diagnostic) => Crlf($$"""
        From: postmaster@contoso.example
        To: bounces@acme.test
        Date: Sat, 5 Dec 2026 10:15:03 +0000
        Content-Type: multipart/report; report-type=delivery-status;
        	boundary="b7d1c7f4-6a80-4e1d-a9f0-8c9d71b2a001"
        MIME-Version: 1.0
        Message-ID: <8a5d3f1e-77aa-4c1b-b1ea-0d1a4f9c2e30@AM0PR01MB1234.eurprd01.prod.exchangelabs.com>
        In-Reply-To: <{{originalMessageId}}>
        References: <{{originalMessageId}}>
        Subject: Undeliverable: Your receipt
        Auto-Submitted: auto-replied

        --b7d1c7f4-6a80-4e1d-a9f0-8c9d71b2a001
        Content-Type: multipart/alternative; differences=Content-Type;
        	boundary="c2f0a6e1-1111-4a3b-9e2c-5f7d8e9a0b1c"

        --c2f0a6e1-1111-4a3b-9e2c-5f7d8e9a0b1c
        Content-Type: text/plain; charset="us-ascii"
        Content-Transfer-Encoding: quoted-printable

        Your message to {{recipient}} couldn't be delivered.

        --c2f0a6e1-1111-4a3b-9e2c-5f7d8e9a0b1c
        Content-Type: text/html; charset="us-ascii"
        Content-Transfer-Encoding: quoted-printable

        <html><body><p>Your message to {{recipient}} couldn't be delivered.</p></body></html>

        --c2f0a6e1-1111-4a3b-9e2c-5f7d8e9a0b1c--

        --b7d1c7f4-6a80-4e1d-a9f0-8c9d71b2a001
        Content-Type: message/delivery-status

        Reporting-MTA: dns;AM0PR01MB1234.eurprd01.prod.exchangelabs.com
        Received-From-MTA: dns;relay.acme.test
        Arrival-Date: Sat, 5 Dec 2026 10:15:01 +0000

        Original-Recipient: rfc822;{{recipient}}
        Final-Recipient: rfc822;{{recipient}}
        Action: failed
        Status: 5.1.10
        Diagnostic-Code: {{diagnostic}}

        --b7d1c7f4-6a80-4e1d-a9f0-8c9d71b2a001
        Content-Type: message/rfc822

        Received: from relay.acme.test (198.51.100.7) by AM0PR01MB1234.eurprd01.prod.exchangelabs.com
        From: Acme <noreply@acme.test>
        To: <{{recipient}}>
        Subject: Your receipt
        Date: Sat, 5 Dec 2026 10:15:00 +0000
        Message-ID: <{{originalMessageId}}>
        Content-Type: text/plain; charset="us-ascii"
        MIME-Version: 1.0

        Thanks for your order.

        --b7d1c7f4-6a80-4e1d-a9f0-8c9d71b2a001--
        """);

    public static string Gmail(string originalMessageId, string recipient) => Crlf($$"""
        Delivered-To: bounces@acme.test
        From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>
        To: bounces@acme.test
        Auto-Submitted: auto-replied
        Subject: Delivery Status Notification (Failure)
        Date: Sat, 05 Dec 2026 02:15:04 -0800 (PST)
        Message-ID: <6751f0a8.050a0220.1c4a2b.9f3aSMTPIN_ADDED_MISSING@mx.google.com>
        MIME-Version: 1.0
        Content-Type: multipart/report; boundary="000000000000a1b2c3d4e5f60708"; report-type=delivery-status

        --000000000000a1b2c3d4e5f60708
        Content-Type: text/plain; charset="UTF-8"

        Address not found

        Your message wasn't delivered to {{recipient}} because the address couldn't be found, or is unable to receive mail.

        --000000000000a1b2c3d4e5f60708
        Content-Type: message/delivery-status

        Reporting-MTA: dns; googlemail.com
        Received-From-MTA: dns; relay.acme.test
        Arrival-Date: Sat, 05 Dec 2026 02:15:03 -0800 (PST)
        X-Original-Message-ID: <{{originalMessageId}}>

        Final-Recipient: rfc822; {{recipient}}
        Action: failed
        Status: 5.1.1
        Remote-MTA: dns; gmail-smtp-in.l.google.com. (2a00:1450:400c:c06::1b, the server for the domain gmail.example.)
        Diagnostic-Code: smtp; 550-5.1.1 The email account that you tried to reach does not exist. Please try
         550-5.1.1 double-checking the recipient's email address for typos or
         550-5.1.1 unnecessary spaces. https://support.google.com/mail/?p=NoSuchUser
         a640c23a62f3a-aa0c9a8b1c2si1234567a.55 - gsmtp
        Last-Attempt-Date: Sat, 05 Dec 2026 02:15:04 -0800 (PST)

        --000000000000a1b2c3d4e5f60708--
        """);

    /// <summary>A terse report that returns nothing of the message: only the address it was delivered to names the email.</summary>
    public static string WithoutTheMessage(string deliveredTo, string recipient) => Crlf($$"""
        Delivered-To: {{deliveredTo}}
        From: MAILER-DAEMON@mx.small-isp.example
        To: {{deliveredTo}}
        Subject: failure notice
        MIME-Version: 1.0
        Content-Type: multipart/report; report-type=delivery-status; boundary="=_r1"

        --=_r1
        Content-Type: text/plain

        Sorry, we were unable to deliver your message to {{recipient}}.

        --=_r1
        Content-Type: message/delivery-status

        Reporting-MTA: dns; mx.small-isp.example

        Final-Recipient: rfc822; {{recipient}}
        Action: failed
        Status: 5.2.1
        Diagnostic-Code: smtp; 550 5.2.1 Mailbox disabled

        --=_r1--
        """);

    private static string PostfixGroup(Group g) => string.Join("\n",
        "",
        $"Final-Recipient: rfc822; {g.Recipient}",
        $"Original-Recipient: rfc822;{g.OriginalRecipient ?? g.Recipient}",
        $"Action: {g.Action}",
        $"Status: {g.Status}",
        "Remote-MTA: dns; mail.example.com",
        g.Diagnostic is null ? "X-Postfix-Note: no diagnostic" : "Diagnostic-Code: " + g.Diagnostic);

    private static string Crlf(string text) => text.ReplaceLineEndings("\r\n");
}
