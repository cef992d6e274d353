using System.Net;
using System.Text.Json;
using EmailPlatform.Status.Storage;
using EmailPlatform.Status.Tests.Support;
using EmailPlatform.Testing;
using Microsoft.EntityFrameworkCore;
using static EmailPlatform.Status.Tests.Support.BounceReports;
using static EmailPlatform.Status.Tests.Webhooks.WebhookTesting;

namespace EmailPlatform.Status.Tests.Bounces;

/// <summary>
/// <c>POST /v1/bounces</c> over HTTP on PostgreSQL: a delivery status notification that came back after the relay took
/// the message turns its failed recipients from <c>delivered</c> into <c>bounced</c>, once however often it is posted,
/// with the webhook and the suppression a relay's 5xx would have caused; anything else is a problem and records nothing.
/// </summary>
public sealed class BounceReportTests
{
    private const string Alice = "alice@example.com";
    private const string Bob = "bob@example.com";

    [Fact]
    public async Task AReportedBounceReplacesDeliveredWithTheRemoteReplyOnceAndIsSentAsAWebhookAndSuppressed()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        await using var api = await StatusApi.StartAsync(FastRetries());
        using var client = api.CreateClient();
        var (subscriptionId, _) = await SubscribeAsync(client, receiver.Url, "email.bounced");
        var emailId = Guid.NewGuid();
        var accepted = TestEvents.Accepted(emailId, to: [Alice, Bob]);
        await api.RecordAsync(accepted, TestEvents.Delivered(emailId, Alice, attempt: 2), TestEvents.Delivered(emailId, Bob));
        var report = Postfix(accepted.MessageId.Trim('<', '>'),
            new Group(Alice, "failed", "5.1.1", "smtp; 550 5.1.1 <alice@example.com>: Recipient address\n    rejected: User unknown"),
            new Group(Bob, "delayed", "4.4.1", "X-Postfix; connect to mail.example.com[203.0.113.5]:25: Connection timed out"));

        var answer = await PostAsync(client, report);

        Assert.Equal(HttpStatusCode.OK, answer.Status);
        Assert.Equal(("bounce_report", emailId, "mx.example.net"),
            (answer.Json.GetProperty("object").GetString(), answer.Json.GetProperty("email_id").GetGuid(), answer.Json.GetProperty("reporting_mta").GetString()));
        Assert.Equal([(Alice, "failed", "5.1.1", "recorded"), (Bob, "delayed", "4.4.1", "not_failed")], Results(answer.Json));

        var email = await GetJsonAsync(client, $"/v1/emails/{emailId}");
        Assert.Equal(("bounced", "bounced"), (email.GetProperty("status").GetString(), email.GetProperty("last_event").GetString()));
        var recipients = email.GetProperty("recipients").EnumerateArray().ToDictionary(r => r.GetProperty("email").GetString()!);
        Assert.Equal(("bounced", 2), (recipients[Alice].GetProperty("status").GetString(), recipients[Alice].GetProperty("attempts").GetInt32()));
        Assert.Equal((550, "5.1.1", "<alice@example.com>: Recipient address rejected: User unknown"), Reply(recipients[Alice].GetProperty("last_reply")));
        Assert.StartsWith("Bounce reported by mx.example.net", recipients[Alice].GetProperty("reason").GetString(), StringComparison.Ordinal);
        Assert.Equal("delivered", recipients[Bob].GetProperty("status").GetString());
        var bounce = email.GetProperty("events").EnumerateArray().Single(e => e.GetProperty("type").GetString() == "email.bounced");
        Assert.Equal((Alice, "mx.example.net", 2), (bounce.GetProperty("recipient").GetString(), bounce.GetProperty("relay").GetString(), bounce.GetProperty("attempt").GetInt32()));

        // A hard bounce: suppressed, as after a relay's 5xx.
        var suppression = await GetJsonAsync(client, $"/v1/suppressions/{Alice}");
        Assert.Equal(("bounce", "5.1.1", emailId), (suppression.GetProperty("source").GetString(), suppression.GetProperty("enhanced_code").GetString(),
            suppression.GetProperty("source_email_id").GetGuid()));

        // The email.bounced webhook, with the remote server's reply and the reporting MTA.
        var received = await ReceivedAsync(receiver, 1, "the email.bounced webhook");
        using (var payload = JsonDocument.Parse(received[0].Body))
        {
            var data = payload.RootElement.GetProperty("data");
            Assert.Equal("email.bounced", payload.RootElement.GetProperty("type").GetString());
            Assert.Equal((Alice, "mx.example.net", 550, "5.1.1"), (data.GetProperty("recipient").GetString(), data.GetProperty("relay").GetString(),
                data.GetProperty("smtp").GetProperty("code").GetInt32(), data.GetProperty("smtp").GetProperty("enhanced_code").GetString()));
        }

        // Posted again (a mailbox fetched twice, a pipe retried): nothing new.
        var again = await PostAsync(client, report);
        Assert.Equal(HttpStatusCode.OK, again.Status);
        Assert.Equal([(Alice, "failed", "5.1.1", "already_recorded"), (Bob, "delayed", "4.4.1", "not_failed")], Results(again.Json));
        Assert.Equal(1, await api.WithStoreAsync(db => db.Events.CountAsync(e => e.EmailId == emailId && e.Type == "email.bounced")));
        Assert.Equal(1, await api.WithStoreAsync(db => db.WebhookDeliveries.CountAsync(d => d.SubscriptionId == subscriptionId)));
    }

    [Fact]
    public async Task AReportWithoutAnSmtpReplyRecordsItsStatusAndDiagnosticAndASoftFailureIsNotSuppressed()
    {
        await using var api = await StatusApi.StartAsync();
        using var client = api.CreateClient();
        var emailId = Guid.NewGuid();
        var accepted = TestEvents.Accepted(emailId, to: [Alice]);
        await api.RecordAsync(accepted, TestEvents.Delivered(emailId, Alice));

        var answer = await PostAsync(client, Postfix(accepted.MessageId.Trim('<', '>'),
            new Group(Alice, "failed", "4.4.7", "X-Postfix; delivery temporarily suspended: connect to mail.example.com: Connection refused")));

        Assert.Equal([(Alice, "failed", "4.4.7", "recorded")], Results(answer.Json));
        var recipient = await api.WithStoreAsync(db => db.Recipients.SingleAsync(r => r.EmailId == emailId));
        Assert.Equal((EmailState.Bounced, null, "4.4.7"), (recipient.State, recipient.SmtpCode, recipient.EnhancedCode));
        Assert.Equal("Bounce reported by mx.example.net after the relay accepted the message: 4.4.7 delivery temporarily suspended: connect to mail.example.com: Connection refused",
            recipient.Reason);
        Assert.Equal(0, await api.WithStoreAsync(db => db.Suppressions.CountAsync()));
    }

    [Fact]
    public async Task ReportsOfMicrosoft365AndGmailFindTheirEmailAndRecipientWhicheverWayTheyNameThem()
    {
        await using var api = await StatusApi.StartAsync();
        using var client = api.CreateClient();
        var first = Guid.NewGuid();
        var second = Guid.NewGuid();
        // The ingress's Message-IDs have no angle brackets stored; the recipient is found in any case of its address.
        var toBob = TestEvents.Accepted(first, to: ["Bob <Bob@Contoso.example>"]) with { MessageId = $"{first:N}@acme.test" };
        var toCarol = TestEvents.Accepted(second, to: ["carol@gmail.example"]);
        await api.RecordAsync(toBob, TestEvents.Delivered(first, "Bob@Contoso.example"), toCarol, TestEvents.Delivered(second, "carol@gmail.example"));

        var microsoft = await PostAsync(client, Microsoft365(toBob.MessageId, "bob@contoso.example",
            "smtp;550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup"));
        var gmail = await PostAsync(client, Gmail(toCarol.MessageId.Trim('<', '>'), "carol@gmail.example"));

        Assert.Equal((first, "recorded"), (microsoft.Json.GetProperty("email_id").GetGuid(), Results(microsoft.Json).Single().Result));
        Assert.Equal((second, "recorded"), (gmail.Json.GetProperty("email_id").GetGuid(), Results(gmail.Json).Single().Result));
        var states = await api.WithStoreAsync(db => db.Recipients.Where(r => r.EmailId == first || r.EmailId == second)
            .Select(r => new { r.Address, r.State, r.EnhancedCode }).ToListAsync());
        Assert.Equal([("bob@contoso.example", EmailState.Bounced, "5.1.10"), ("carol@gmail.example", EmailState.Bounced, "5.1.1")],
            states.Select(s => (s.Address, s.State, s.EnhancedCode)).Order());
    }

    [Fact]
    public async Task AReportReturningNothingOfTheMessageFindsItsEmailByTheEnvelopeSenderItWasSentTo()
    {
        await using var api = await StatusApi.StartAsync();
        using var client = api.CreateClient();
        var emailId = Guid.NewGuid();
        await api.RecordAsync(TestEvents.Accepted(emailId, to: ["gina@small-isp.example"]), TestEvents.Delivered(emailId, "gina@small-isp.example"));

        var answer = await PostAsync(client, WithoutTheMessage($"bounces+{emailId:N}@bounce.acme.test", "gina@small-isp.example"));
        var unknown = await SendAsync(client, WithoutTheMessage($"bounces+{Guid.NewGuid():N}@bounce.acme.test", "gina@small-isp.example"));

        Assert.Equal((emailId, "mx.small-isp.example"), (answer.Json.GetProperty("email_id").GetGuid(), answer.Json.GetProperty("reporting_mta").GetString()));
        Assert.Equal([("gina@small-isp.example", "failed", "5.2.1", "recorded")], Results(answer.Json));
        Assert.Equal(EmailState.Bounced, await api.WithStoreAsync(db => db.Recipients.Where(r => r.EmailId == emailId).Select(r => r.State).SingleAsync()));
        await ProblemAssert.IsProblemAsync(unknown, HttpStatusCode.UnprocessableEntity, "unknown_email");
    }

    [Fact]
    public async Task AReportOnARawSendWithItsOwnMessageIdAndEnvelopeSenderFindsItsEmailByTheEmailIdHeader()
    {
        await using var api = await StatusApi.StartAsync();
        using var client = api.CreateClient();
        var emailId = Guid.NewGuid();
        // The client's Message-ID, and its envelope sender: neither names the email.
        await api.RecordAsync(TestEvents.Accepted(emailId, to: [Alice]) with { MessageId = "<report-2026-11@acme.test>" }, TestEvents.Delivered(emailId, Alice));
        var report = Postfix("report-2026-11@acme.test", new Group(Alice, "failed", "5.1.1", "smtp; 550 5.1.1 User unknown"));

        using var without = await SendAsync(client, report);
        var answer = await PostAsync(client, report.Replace("Message-ID: <report-2026-11@acme.test>",
            $"Message-ID: <report-2026-11@acme.test>\r\nX-Email-Id: {emailId}", StringComparison.Ordinal));

        await ProblemAssert.IsProblemAsync(without, HttpStatusCode.UnprocessableEntity, "unknown_email");
        Assert.Equal((emailId, "recorded"), (answer.Json.GetProperty("email_id").GetGuid(), Results(answer.Json).Single().Result));
        Assert.Equal(EmailState.Bounced, await api.WithStoreAsync(db => db.Recipients.Where(r => r.EmailId == emailId).Select(r => r.State).SingleAsync()));
    }

    [Fact]
    public async Task AReportAboutAnEmailAcceptedMomentsAgoAndNotRecordedYetIsRefusedForNowAndAnOldOneForGood()
    {
        await using var api = await StatusApi.StartAsync();
        using var client = api.CreateClient();
        // Ids as the ingress makes them (version 7: their first 48 bits are the accept's time).
        var justAccepted = Guid.CreateVersion7();
        var acceptedTwoDaysAgo = Guid.CreateVersion7(DateTimeOffset.UtcNow.AddDays(-2));

        using var early = await SendAsync(client, WithoutTheMessage($"bounces+{justAccepted:N}@bounce.acme.test", "gina@small-isp.example"));
        using var late = await SendAsync(client, WithoutTheMessage($"bounces+{acceptedTwoDaysAgo:N}@bounce.acme.test", "gina@small-isp.example"));

        var problem = await ProblemAssert.IsProblemAsync(early, HttpStatusCode.ServiceUnavailable, "email_not_recorded_yet");
        Assert.Contains(justAccepted.ToString(), problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(TimeSpan.FromSeconds(60), early.Headers.RetryAfter?.Delta);
        await ProblemAssert.IsProblemAsync(late, HttpStatusCode.UnprocessableEntity, "unknown_email");

        // Once its accept is recorded, the same report is.
        await api.RecordAsync(TestEvents.Accepted(justAccepted, to: ["gina@small-isp.example"]));
        var again = await PostAsync(client, WithoutTheMessage($"bounces+{justAccepted:N}@bounce.acme.test", "gina@small-isp.example"));
        Assert.Equal("recorded", Results(again.Json).Single().Result);
        Assert.Equal(0, await api.WithStoreAsync(db => db.Emails.CountAsync(e => e.Id == acceptedTwoDaysAgo)));
    }

    /// <summary>
    /// One recipient's outcome overtook the email's accept, so the email is known with that recipient only: a report about
    /// another is refused for now (it used to be answered <c>not_a_recipient</c>, which a reporting server takes as done,
    /// and the bounce was lost). A report about the one it lists is recorded at once, as before.
    /// </summary>
    [Fact]
    public async Task AReportAboutARecipientOfAnEmailKnownOnlyByAnotherRecipientsOutcomeIsRefusedUntilTheAcceptIsRecorded()
    {
        await using var api = await StatusApi.StartAsync();
        using var client = api.CreateClient();
        var emailId = Guid.CreateVersion7();
        var accepted = TestEvents.Accepted(emailId, to: [Alice, Bob]);
        await api.RecordAsync(TestEvents.Delivered(emailId, Alice));
        var aboutBob = Postfix(accepted.MessageId.Trim('<', '>'), new Group(Bob, "failed", "5.1.1", "smtp; 550 5.1.1 User unknown"));

        using var early = await SendAsync(client, aboutBob);
        await ProblemAssert.IsProblemAsync(early, HttpStatusCode.ServiceUnavailable, "email_not_recorded_yet");
        var aboutAlice = await PostAsync(client, Postfix(accepted.MessageId.Trim('<', '>'), new Group(Alice, "failed", "5.2.2", "smtp; 552 5.2.2 Mailbox full")));
        Assert.Equal("recorded", Results(aboutAlice.Json).Single().Result);

        await api.RecordAsync(accepted);
        var again = await PostAsync(client, aboutBob);
        Assert.Equal("recorded", Results(again.Json).Single().Result);
        Assert.Equal(EmailState.Bounced, await api.WithStoreAsync(db => db.Recipients.Where(r => r.EmailId == emailId && r.Address == Bob).Select(r => r.State).SingleAsync()));
    }

    [Fact]
    public async Task AFailedRecipientTheEmailDoesNotHaveIsReportedAsSuchAndNothingIsRecorded()
    {
        await using var api = await StatusApi.StartAsync();
        using var client = api.CreateClient();
        var emailId = Guid.NewGuid();
        var accepted = TestEvents.Accepted(emailId, to: [Alice]);
        await api.RecordAsync(accepted, TestEvents.Delivered(emailId, Alice));

        var answer = await PostAsync(client, Postfix(accepted.MessageId.Trim('<', '>'), new Group("someone-else@example.com", "failed", "5.1.1", "smtp; 550 5.1.1 User unknown")));

        Assert.Equal([("someone-else@example.com", "failed", "5.1.1", "not_a_recipient")], Results(answer.Json));
        Assert.Equal(0, await api.WithStoreAsync(db => db.Events.CountAsync(e => e.Type == "email.bounced")));
        Assert.Equal(EmailState.Delivered, await api.WithStoreAsync(db => db.Emails.Where(e => e.Id == emailId).Select(e => e.State).SingleAsync()));
    }

    [Fact]
    public async Task WhatIsNotAReportAboutAnEmailSentHereIsAProblemAndRecordsNothing()
    {
        await using var api = await StatusApi.StartAsync();
        using var client = api.CreateClient();
        var emailId = Guid.NewGuid();
        var accepted = TestEvents.Accepted(emailId, to: [Alice]);
        await api.RecordAsync(accepted, TestEvents.Delivered(emailId, Alice));
        var ours = Postfix(accepted.MessageId.Trim('<', '>'), new Group(Alice, "failed", "5.1.1", "smtp; 550 5.1.1 User unknown"));

        // Another sender's message, an id of ours that was never sent, and an id of ours under another domain than the email's.
        await ProblemAssert.IsProblemAsync(await SendAsync(client, Postfix("20261205.ABC@elsewhere.example", new Group(Alice, "failed", "5.1.1"))),
            HttpStatusCode.UnprocessableEntity, "unknown_email");
        await ProblemAssert.IsProblemAsync(await SendAsync(client, Postfix($"{Guid.NewGuid():N}@emailplatform.test", new Group(Alice, "failed", "5.1.1"))),
            HttpStatusCode.UnprocessableEntity, "unknown_email");
        await ProblemAssert.IsProblemAsync(await SendAsync(client, Postfix($"{emailId:N}@elsewhere.example", new Group(Alice, "failed", "5.1.1"))),
            HttpStatusCode.UnprocessableEntity, "unknown_email");
        // A version 7 id whose time is past any clock's.
        await ProblemAssert.IsProblemAsync(await SendAsync(client, Postfix("ffffffffffff7fffbfffffffffffffff@acme.test", new Group(Alice, "failed", "5.1.1"))),
            HttpStatusCode.UnprocessableEntity, "unknown_email");
        // An out-of-office reply to the email: no delivery-status part.
        await ProblemAssert.IsProblemAsync(await SendAsync(client,
            $"From: alice@example.com\r\nTo: noreply@acme.test\r\nIn-Reply-To: {accepted.MessageId}\r\nSubject: Out of office\r\n\r\nBack on Monday.\r\n"),
            HttpStatusCode.UnprocessableEntity, "not_a_delivery_report");
        // A report sent as JSON or as text, and an empty body.
        // Answered by the endpoint, in the report's terms (not routing's advice for the JSON endpoints).
        var unsupported = await ProblemAssert.IsProblemAsync(await SendAsync(client, ours, "application/json"), HttpStatusCode.UnsupportedMediaType, "unsupported_media_type");
        Assert.Equal("Send the bounce as it was received, the whole message with its headers, with 'Content-Type: message/rfc822'.",
            unsupported.GetProperty("detail").GetString());
        await ProblemAssert.IsProblemAsync(await SendAsync(client, ours, "text/plain"), HttpStatusCode.UnsupportedMediaType, "unsupported_media_type");
        await ProblemAssert.IsProblemAsync(await SendAsync(client, ""), HttpStatusCode.BadRequest, "invalid_message");
        // Larger than any report: refused before it is read.
        await ProblemAssert.IsProblemAsync(await SendAsync(client, ours + new string('x', 10 * 1024 * 1024)), HttpStatusCode.RequestEntityTooLarge, "payload_too_large");
        // Without a key.
        using (var anonymous = api.Factory.CreateClient())
        {
            using var content = ReportPosting.Content(ours, "message/rfc822");
            using var refused = await anonymous.PostAsync(new Uri("/v1/bounces", UriKind.Relative), content);
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        }

        Assert.Equal(0, await api.WithStoreAsync(db => db.Events.CountAsync(e => e.Type == "email.bounced")));
        Assert.Equal(EmailState.Delivered, await api.WithStoreAsync(db => db.Recipients.Where(r => r.EmailId == emailId).Select(r => r.State).SingleAsync()));
    }

    private static async Task<(HttpStatusCode Status, JsonElement Json)> PostAsync(HttpClient client, string report) =>
        (HttpStatusCode.OK, await ReportPosting.PostAsync(client, "/v1/bounces", report));

    private static Task<HttpResponseMessage> SendAsync(HttpClient client, string report, string contentType = "message/rfc822") =>
        ReportPosting.SendAsync(client, "/v1/bounces", report, contentType);

    private static List<(string Email, string Action, string Status, string Result)> Results(JsonElement answer) =>
        [.. answer.GetProperty("recipients").EnumerateArray().Select(r => (
            r.GetProperty("email").GetString()!, r.GetProperty("action").GetString()!, r.GetProperty("status").GetString()!, r.GetProperty("result").GetString()!))];

    private static (int, string?, string?) Reply(JsonElement reply) =>
        (reply.GetProperty("code").GetInt32(), reply.GetProperty("enhanced_code").GetString(), reply.GetProperty("text").GetString());
}
