using System.Net;
using System.Text.Json;
using EmailPlatform.Contracts;
using EmailPlatform.Status.Storage;
using EmailPlatform.Status.Tests.Support;
using EmailPlatform.Testing;
using Microsoft.EntityFrameworkCore;
using static EmailPlatform.Status.Tests.Support.ComplaintReports;
using static EmailPlatform.Status.Tests.Webhooks.WebhookTesting;

namespace EmailPlatform.Status.Tests.Complaints;

/// <summary>
/// <c>POST /v1/complaints</c> over HTTP on PostgreSQL: a feedback loop's report that a recipient marked an email as spam
/// is an <c>email.complained</c> event on that recipient's timeline, once however often it is posted, with its webhook and
/// the address suppressed; the recipient stays <c>delivered</c>. Anything else is a problem and records nothing.
/// </summary>
public sealed class ComplaintReportTests
{
    private const string Alice = "alice@example.com";
    private const string Bob = "bob@example.com";

    [Fact]
    public async Task AComplaintIsRecordedOnceForTheRecipientItNamesWithItsWebhookAndTheAddressSuppressed()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        await using var api = await StatusApi.StartAsync(FastRetries());
        using var client = api.CreateClient();
        var (subscriptionId, _) = await SubscribeAsync(client, receiver.Url, "email.complained");
        var emailId = Guid.NewGuid();
        var accepted = TestEvents.Accepted(emailId, to: [Alice, Bob]);
        await api.RecordAsync(accepted, TestEvents.Delivered(emailId, Alice, attempt: 2), TestEvents.Delivered(emailId, Bob));
        // The returned message was addressed to both: only Original-Rcpt-To says who complained.
        var report = Named(accepted.MessageId.Trim('<', '>'), Bob, to: $"{Alice}, {Bob}");

        var answer = await PostAsync(client, report);

        Assert.Equal(("complaint_report", emailId, "abuse", "ExampleMail-FBL/1.0", "feedback.mail.example", Bob, true, "recorded"), Summary(answer));
        var email = await GetJsonAsync(client, $"/v1/emails/{emailId}");
        // Delivered it stays; the complaint is its latest news, as Resend's last_event says.
        Assert.Equal(("delivered", "complained"), (email.GetProperty("status").GetString(), email.GetProperty("last_event").GetString()));
        Assert.All(email.GetProperty("recipients").EnumerateArray(), r => Assert.Equal("delivered", r.GetProperty("status").GetString()));
        var complaint = email.GetProperty("events").EnumerateArray().Single(e => e.GetProperty("type").GetString() == "email.complained");
        Assert.Equal((Bob, "feedback.mail.example", 1, "Complaint (abuse) reported by ExampleMail-FBL/1.0"),
            (complaint.GetProperty("recipient").GetString(), complaint.GetProperty("relay").GetString(), complaint.GetProperty("attempt").GetInt32(),
                complaint.GetProperty("reason").GetString()));

        var suppression = await GetJsonAsync(client, $"/v1/suppressions/{Bob}");
        Assert.Equal(("complaint", emailId, "Complaint (abuse) reported by ExampleMail-FBL/1.0"),
            (suppression.GetProperty("source").GetString(), suppression.GetProperty("source_email_id").GetGuid(), suppression.GetProperty("reason").GetString()));
        Assert.Equal(JsonValueKind.Null, suppression.GetProperty("expires_at").ValueKind);
        using (var notSuppressed = await client.GetAsync(new Uri($"/v1/suppressions/{Alice}", UriKind.Relative)))
        {
            Assert.Equal(HttpStatusCode.NotFound, notSuppressed.StatusCode);
        }

        var received = await ReceivedAsync(receiver, 1, "the email.complained webhook");
        using (var payload = JsonDocument.Parse(received[0].Body))
        {
            var data = payload.RootElement.GetProperty("data");
            Assert.Equal(("email.complained", emailId, Bob, "Complaint (abuse) reported by ExampleMail-FBL/1.0"),
                (payload.RootElement.GetProperty("type").GetString(), data.GetProperty("email_id").GetGuid(), data.GetProperty("recipient").GetString(),
                    data.GetProperty("reason").GetString()));
        }

        // Posted again (a mailbox fetched twice): nothing new.
        var again = await PostAsync(client, report);
        Assert.Equal("already_recorded", again.GetProperty("result").GetString());
        Assert.Equal(1, await api.WithStoreAsync(db => db.Events.CountAsync(e => e.EmailId == emailId && e.Type == "email.complained")));
        Assert.Equal(1, await api.WithStoreAsync(db => db.WebhookDeliveries.CountAsync(d => d.SubscriptionId == subscriptionId)));
    }

    [Fact]
    public async Task AComplaintIsTheEmailsLastEventUntilItsStateMovesOn()
    {
        await using var api = await StatusApi.StartAsync();
        using var client = api.CreateClient();
        var emailId = Guid.NewGuid();
        var accepted = TestEvents.Accepted(emailId, to: [Alice, Bob]);
        await api.RecordAsync(accepted, TestEvents.Delivered(emailId, Alice), TestEvents.Deferred(emailId, Bob));

        await PostAsync(client, Named(accepted.MessageId.Trim('<', '>'), Alice));

        Assert.Equal(("deferred", "complained"), await StatusAndLastEventAsync(client, emailId));
        var listed = (await GetJsonAsync(client, $"/v1/emails?recipient={Alice}")).GetProperty("data").EnumerateArray().Single();
        Assert.Equal((emailId, "complained"), (listed.GetProperty("id").GetGuid(), listed.GetProperty("last_event").GetString()));

        // An event that changes nothing for the email (Bob deferred again) leaves the complaint its latest news.
        await api.RecordAsync(TestEvents.Deferred(emailId, Bob, attempt: 2));
        Assert.Equal(("deferred", "complained"), await StatusAndLastEventAsync(client, emailId));

        // Bob's delivery, after the complaint, moves the email on.
        await api.RecordAsync(TestEvents.Delivered(emailId, Bob, attempt: 3));
        Assert.Equal(("delivered", "delivered"), await StatusAndLastEventAsync(client, emailId));
    }

    [Fact]
    public async Task ARedactedReportFindsItsEmailByTheEnvelopeSenderAndSuppressesOnlyARecipientItCanTellApart()
    {
        await using var api = await StatusApi.StartAsync();
        using var client = api.CreateClient();
        var single = Guid.NewGuid();
        var several = Guid.NewGuid();
        var oneReached = Guid.NewGuid();
        await api.RecordAsync(
            TestEvents.Accepted(single, to: ["Gina <Gina@Small-ISP.example>"]), TestEvents.Delivered(single, "Gina@Small-ISP.example"),
            TestEvents.Accepted(several, to: [Alice, Bob]), TestEvents.Delivered(several, Alice), TestEvents.Delivered(several, Bob),
            TestEvents.Accepted(oneReached, to: [Alice, "hal@example.com"]), TestEvents.Delivered(oneReached, "hal@example.com"), TestEvents.Bounced(oneReached, Alice));

        // The email's only recipient is the one who complained, whatever the report hides.
        var one = await PostAsync(client, Redacted($"bounces+{single:N}@bounce.acme.test"));
        // Of two, the report does not say which: the complaint is the email's, and no address is suppressed on a guess.
        var two = await PostAsync(client, Redacted($"bounces+{several:N}@bounce.acme.test"));
        // Of two, only one got it: the other bounced.
        var reached = await PostAsync(client, Redacted($"bounces+{oneReached:N}@bounce.acme.test"));

        Assert.Equal((single, "gina@small-isp.example", true, "recorded"), (one.GetProperty("email_id").GetGuid(), one.GetProperty("recipient").GetString(),
            one.GetProperty("suppressed").GetBoolean(), one.GetProperty("result").GetString()));
        Assert.Equal((several, JsonValueKind.Null, false, "recorded"), (two.GetProperty("email_id").GetGuid(), two.GetProperty("recipient").ValueKind,
            two.GetProperty("suppressed").GetBoolean(), two.GetProperty("result").GetString()));
        Assert.Equal(("hal@example.com", true), (reached.GetProperty("recipient").GetString(), reached.GetProperty("suppressed").GetBoolean()));
        Assert.Equal(("Hotmail FBL", JsonValueKind.Null), (one.GetProperty("user_agent").GetString(), one.GetProperty("reporting_mta").ValueKind));
        var events = await api.WithStoreAsync(db => db.Events.Where(e => e.Type == "email.complained").OrderBy(e => e.EmailId == single ? 0 : e.EmailId == several ? 1 : 2)
            .Select(e => new { e.EmailId, e.Recipient, e.Reason }).ToListAsync());
        Assert.Equal([(single, "gina@small-isp.example"), (several, null), (oneReached, "hal@example.com")], events.Select(e => (e.EmailId, e.Recipient)));
        Assert.Equal("Complaint (abuse) reported by Hotmail FBL", events[1].Reason);
        // Alice's hard bounce suppressed her; the complaints suppressed Gina and Hal, and nobody on a guess.
        Assert.Equal([("alice@example.com", "bounce"), ("gina@small-isp.example", "complaint"), ("hal@example.com", "complaint")],
            (await api.WithStoreAsync(db => db.Suppressions.Select(s => new { s.Address, s.Source }).ToListAsync())).Select(s => (s.Address, s.Source)).Order());
    }

    /// <summary>
    /// Alice in <c>To</c>, Bob in <c>Bcc</c>, both reached: Bob's copy carries <c>To: alice</c> like hers, so a redacted
    /// report returning that header says nothing of who complained. It was pinned on Alice (the only recipient in the
    /// returned <c>To</c>), who was suppressed for good while Bob, had he complained, was not.
    /// </summary>
    [Fact]
    public async Task ARedactedReportIsNotPinnedOnTheOneRecipientInTheReturnedToWhenOthersWereReachedToo()
    {
        await using var api = await StatusApi.StartAsync();
        using var client = api.CreateClient();
        var emailId = Guid.NewGuid();
        await api.RecordAsync(TestEvents.Accepted(emailId, to: [Alice], bcc: [Bob]), TestEvents.Delivered(emailId, Alice), TestEvents.Delivered(emailId, Bob));

        var answer = await PostAsync(client, Redacted($"bounces+{emailId:N}@bounce.acme.test", to: Alice));

        Assert.Equal((JsonValueKind.Null, false, "recorded"),
            (answer.GetProperty("recipient").ValueKind, answer.GetProperty("suppressed").GetBoolean(), answer.GetProperty("result").GetString()));
        Assert.False(await api.WithStoreAsync(db => db.Suppressions.AnyAsync()));
    }

    /// <summary>
    /// A redacted report about an email to Alice and Bob, when Bob's address had bounced, is Alice's; handed in again
    /// after a bounce report for Alice came in too (a feedback loop retrying after our answer was lost), it is the same
    /// report: it records nothing more, and is answered as it was recorded, although who it would point at now is no one.
    /// </summary>
    [Fact]
    public async Task TheSameRedactedReportHandedInAgainAfterItsRecipientBouncedIsRecordedOnce()
    {
        await using var api = await StatusApi.StartAsync();
        using var client = api.CreateClient();
        var emailId = Guid.NewGuid();
        await api.RecordAsync(TestEvents.Accepted(emailId, to: [Alice, Bob]), TestEvents.Delivered(emailId, Alice), TestEvents.Bounced(emailId, Bob));
        var report = Redacted($"bounces+{emailId:N}@bounce.acme.test");

        var first = await PostAsync(client, report);
        await api.RecordAsync(new EmailPlatform.Status.Bounces.ReportedBounce(Guid.NewGuid(), emailId, Alice, "mx.example.com", "5.2.2", null, "mailbox full", DateTimeOffset.UtcNow));
        var again = await PostAsync(client, report);

        Assert.Equal((Alice, "recorded"), (first.GetProperty("recipient").GetString(), first.GetProperty("result").GetString()));
        // Answered as it was recorded: Alice's, and her address suppressed.
        Assert.Equal(("already_recorded", Alice, true),
            (again.GetProperty("result").GetString(), again.GetProperty("recipient").GetString(), again.GetProperty("suppressed").GetBoolean()));
        Assert.Equal(1, await api.WithStoreAsync(db => db.Events.CountAsync(e => e.EmailId == emailId && e.Type == "email.complained")));
    }

    /// <summary>
    /// Alice delivered, and Bob not (yet) as far as recorded: his attempt ended in an unknown outcome (the relay may have
    /// taken the message), and a retry then found his address suppressed, or his delivery is still on its way to the
    /// status service, or he was delivered and then erased. A redacted report may be his: it was pinned on Alice, the one
    /// recipient recorded as reached, and her address suppressed for good on a guess.
    /// </summary>
    [Theory]
    [InlineData("unknown outcome")]
    [InlineData("suppressed on a retry")]
    [InlineData("queued")]
    [InlineData("erased")]
    public async Task ARedactedReportIsNotPinnedOnTheOneRecipientDeliveredWhileAnotherMayHaveBeenReached(string bob)
    {
        await using var api = await StatusApi.StartAsync();
        using var client = api.CreateClient();
        var emailId = Guid.NewGuid();
        await api.RecordAsync(TestEvents.Accepted(emailId, to: [Alice, Bob]), TestEvents.Delivered(emailId, Alice));
        if (bob is "unknown outcome" or "suppressed on a retry")
        {
            await api.RecordAsync(TestEvents.Deferred(emailId, Bob) with
            {
                Reply = null,
                Reason = "Unknown outcome: relay 'relay-a' received the whole message but its reply never came",
            });
        }

        if (bob == "suppressed on a retry")
        {
            await api.RecordAsync(new EmailSuppressed(Guid.NewGuid(), emailId, Bob, "The address is on the suppression list.", DateTimeOffset.UtcNow) { Attempt = 2 });
        }

        if (bob == "erased")
        {
            await api.RecordAsync(TestEvents.Delivered(emailId, Bob));
            using var erased = await client.DeleteAsync(new Uri($"/v1/recipients/{Uri.EscapeDataString(Bob)}", UriKind.Relative));
            Assert.True(erased.IsSuccessStatusCode, $"the erasure answered {(int)erased.StatusCode}");
        }

        var answer = await PostAsync(client, Redacted($"bounces+{emailId:N}@bounce.acme.test"));

        Assert.Equal((JsonValueKind.Null, false, "recorded"),
            (answer.GetProperty("recipient").ValueKind, answer.GetProperty("suppressed").GetBoolean(), answer.GetProperty("result").GetString()));
        Assert.False(await api.WithStoreAsync(db => db.Suppressions.AnyAsync()));
    }

    /// <summary>
    /// The report's <c>Date</c> (6 December 2026, 09:30) is before the email was accepted (at this test's run): its event is
    /// recorded as of the accept, not of a date that would put it before the retention purge's horizon or outside the
    /// range replays that cover when it was recorded.
    /// </summary>
    [Fact]
    public async Task AReportDatedBeforeItsEmailWasAcceptedIsRecordedAsOfTheAccept()
    {
        await using var api = await StatusApi.StartAsync();
        using var client = api.CreateClient();
        var emailId = Guid.NewGuid();
        var accepted = TestEvents.Accepted(emailId, to: [Alice]);
        await api.RecordAsync(accepted, TestEvents.Delivered(emailId, Alice));
        Assert.True(accepted.AcceptedAt > new DateTimeOffset(2026, 12, 6, 9, 30, 0, TimeSpan.Zero));

        await PostAsync(client, Named(accepted.MessageId.Trim('<', '>'), Alice));

        var occurredAt = await api.WithStoreAsync(db => db.Events.Where(e => e.EmailId == emailId && e.Type == "email.complained").Select(e => e.OccurredAt).SingleAsync());
        Assert.Equal(accepted.AcceptedAt.UtcDateTime, occurredAt, TimeSpan.FromMilliseconds(1));
    }

    /// <summary>
    /// Alice's outcome overtook the email's accept, so the email is known with her alone. A complaint naming Bob, whose
    /// returned message was addressed to both, and a redacted one, were taken as Alice's (the only one of the known few
    /// in the message's <c>To</c>, the only one it reached): she was suppressed and Bob, who complained, was not. Both are
    /// now refused for now, and recorded for Bob once the accept is in; one naming Alice is recorded at once.
    /// </summary>
    [Fact]
    public async Task AComplaintAboutAnEmailKnownOnlyByOneRecipientsOutcomeIsRefusedUnlessItNamesThatRecipient()
    {
        await using var api = await StatusApi.StartAsync();
        using var client = api.CreateClient();
        var emailId = Guid.CreateVersion7();
        var accepted = TestEvents.Accepted(emailId, to: [Alice, Bob]);
        await api.RecordAsync(TestEvents.Delivered(emailId, Alice));
        var messageId = accepted.MessageId.Trim('<', '>');
        var aboutBob = Named(messageId, Bob, to: $"{Alice}, {Bob}", reportId: "<arf-bob@feedback.mail.example>");
        var redacted = Redacted($"bounces+{emailId:N}@bounce.acme.test");

        using (var early = await SendAsync(client, aboutBob))
        {
            await ProblemAssert.IsProblemAsync(early, HttpStatusCode.ServiceUnavailable, "email_not_recorded_yet");
        }

        using (var early = await SendAsync(client, redacted))
        {
            await ProblemAssert.IsProblemAsync(early, HttpStatusCode.ServiceUnavailable, "email_not_recorded_yet");
        }

        // Original-Rcpt-To names Bob; the returned message says it was delivered to Alice's mailbox (a forward): Bob's
        // report still, which a Delivered-To naming the one recipient listed must not pin on Alice.
        var forwarded = aboutBob.Replace("Return-Path: <bounces@acme.test>\r\n", $"Return-Path: <bounces@acme.test>\r\nDelivered-To: {Alice}\r\n", StringComparison.Ordinal);
        Assert.NotEqual(aboutBob, forwarded);
        using (var early = await SendAsync(client, forwarded))
        {
            await ProblemAssert.IsProblemAsync(early, HttpStatusCode.ServiceUnavailable, "email_not_recorded_yet");
        }

        Assert.Equal(0, await api.WithStoreAsync(db => db.Suppressions.CountAsync()));
        var aboutAlice = await PostAsync(client, Named(messageId, Alice, to: $"{Alice}, {Bob}"));
        Assert.Equal((Alice, true, "recorded"), (aboutAlice.GetProperty("recipient").GetString(), aboutAlice.GetProperty("suppressed").GetBoolean(),
            aboutAlice.GetProperty("result").GetString()));

        await api.RecordAsync(accepted);
        var again = await PostAsync(client, aboutBob);
        Assert.Equal((Bob, true, "recorded"), (again.GetProperty("recipient").GetString(), again.GetProperty("suppressed").GetBoolean(),
            again.GetProperty("result").GetString()));
        Assert.Equal([Alice, Bob], (await api.WithStoreAsync(db => db.Suppressions.Select(s => s.Address).ToListAsync())).Order());
    }

    [Fact]
    public async Task AReportThatIsNoComplaintRecordsNothing()
    {
        await using var api = await StatusApi.StartAsync();
        using var client = api.CreateClient();
        var emailId = Guid.NewGuid();
        var accepted = TestEvents.Accepted(emailId, to: [Alice]);
        await api.RecordAsync(accepted, TestEvents.Delivered(emailId, Alice));

        // The recipient took it out of the spam folder (RFC 6650), and a DMARC failure report (RFC 6591).
        var notSpam = await PostAsync(client, Named(accepted.MessageId.Trim('<', '>'), Alice, feedbackType: "not-spam"));
        var authFailure = await PostAsync(client, Named(accepted.MessageId.Trim('<', '>'), Alice, feedbackType: "auth-failure"));

        Assert.Equal(("not-spam", Alice, false, "not_a_complaint"), (notSpam.GetProperty("feedback_type").GetString(), notSpam.GetProperty("recipient").GetString(),
            notSpam.GetProperty("suppressed").GetBoolean(), notSpam.GetProperty("result").GetString()));
        Assert.Equal("not_a_complaint", authFailure.GetProperty("result").GetString());
        Assert.Equal(("delivered", "delivered"), await StatusAndLastEventAsync(client, emailId));
        Assert.Equal(0, await api.WithStoreAsync(db => db.Events.CountAsync(e => e.Type == "email.complained")));
        Assert.Equal(0, await api.WithStoreAsync(db => db.Suppressions.CountAsync()));
    }

    [Fact]
    public async Task WhatIsNotAComplaintAboutAnEmailSentHereIsAProblemAndRecordsNothing()
    {
        await using var api = await StatusApi.StartAsync();
        using var client = api.CreateClient();
        var emailId = Guid.NewGuid();
        var accepted = TestEvents.Accepted(emailId, to: [Alice]);
        await api.RecordAsync(accepted, TestEvents.Delivered(emailId, Alice));
        var ours = Named(accepted.MessageId.Trim('<', '>'), Alice);

        // A bounce is no complaint, nor is a reply.
        await ProblemAssert.IsProblemAsync(await SendAsync(client, BounceReports.Postfix(accepted.MessageId.Trim('<', '>'), new BounceReports.Group(Alice, "failed", "5.1.1"))),
            HttpStatusCode.UnprocessableEntity, "not_a_feedback_report");
        await ProblemAssert.IsProblemAsync(await SendAsync(client,
            $"From: {Alice}\r\nTo: noreply@acme.test\r\nIn-Reply-To: {accepted.MessageId}\r\nSubject: Re: Your receipt\r\n\r\nStop sending me these.\r\n"),
            HttpStatusCode.UnprocessableEntity, "not_a_feedback_report");
        // Another sender's message, and one of ours never sent; one accepted moments ago is to be offered again.
        await ProblemAssert.IsProblemAsync(await SendAsync(client, Named("20261206.XYZ@elsewhere.example", Alice)), HttpStatusCode.UnprocessableEntity, "unknown_email");
        await ProblemAssert.IsProblemAsync(await SendAsync(client, Redacted($"bounces+{Guid.NewGuid():N}@bounce.acme.test")), HttpStatusCode.UnprocessableEntity, "unknown_email");
        using (var early = await SendAsync(client, Redacted($"bounces+{Guid.CreateVersion7():N}@bounce.acme.test")))
        {
            await ProblemAssert.IsProblemAsync(early, HttpStatusCode.ServiceUnavailable, "email_not_recorded_yet");
            Assert.Equal(TimeSpan.FromSeconds(60), early.Headers.RetryAfter?.Delta);
        }

        // Not sent as a message, or no message at all, or larger than any report.
        // Answered by the endpoint, in the report's terms (not routing's advice for the JSON endpoints).
        var unsupported = await ProblemAssert.IsProblemAsync(await SendAsync(client, ours, "application/json"), HttpStatusCode.UnsupportedMediaType, "unsupported_media_type");
        Assert.Equal("Send the complaint report as it was received, the whole message with its headers, with 'Content-Type: message/rfc822'.",
            unsupported.GetProperty("detail").GetString());
        await ProblemAssert.IsProblemAsync(await SendAsync(client, ""), HttpStatusCode.BadRequest, "invalid_message");
        await ProblemAssert.IsProblemAsync(await SendAsync(client, ours + new string('x', 10 * 1024 * 1024)), HttpStatusCode.RequestEntityTooLarge, "payload_too_large");
        using (var anonymous = api.Factory.CreateClient())
        {
            using var content = ReportPosting.Content(ours, "message/rfc822");
            using var refused = await anonymous.PostAsync(new Uri("/v1/complaints", UriKind.Relative), content);
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        }

        Assert.Equal(0, await api.WithStoreAsync(db => db.Events.CountAsync(e => e.Type == "email.complained")));
        Assert.Equal(0, await api.WithStoreAsync(db => db.Suppressions.CountAsync()));
        Assert.Equal(EmailState.Delivered, await api.WithStoreAsync(db => db.Recipients.Where(r => r.EmailId == emailId).Select(r => r.State).SingleAsync()));
    }

    private static (string?, Guid, string?, string?, string?, string?, bool, string?) Summary(JsonElement answer) => (
        answer.GetProperty("object").GetString(), answer.GetProperty("email_id").GetGuid(), answer.GetProperty("feedback_type").GetString(),
        answer.GetProperty("user_agent").GetString(), answer.GetProperty("reporting_mta").GetString(), answer.GetProperty("recipient").GetString(),
        answer.GetProperty("suppressed").GetBoolean(), answer.GetProperty("result").GetString());

    private static async Task<(string?, string?)> StatusAndLastEventAsync(HttpClient client, Guid emailId)
    {
        var email = await GetJsonAsync(client, $"/v1/emails/{emailId}");
        return (email.GetProperty("status").GetString(), email.GetProperty("last_event").GetString());
    }

    private static Task<JsonElement> PostAsync(HttpClient client, string report) => ReportPosting.PostAsync(client, "/v1/complaints", report);

    private static Task<HttpResponseMessage> SendAsync(HttpClient client, string report, string contentType = "message/rfc822") =>
        ReportPosting.SendAsync(client, "/v1/complaints", report, contentType);
}
