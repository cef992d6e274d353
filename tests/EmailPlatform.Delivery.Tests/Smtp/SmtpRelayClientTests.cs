using EmailPlatform.Testing;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using EmailPlatform.Contracts;
using EmailPlatform.Delivery.Relays;
using EmailPlatform.Delivery.Sending;
using EmailPlatform.Delivery.Smtp;
using EmailPlatform.Delivery.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using MimeKit;
using SmtpServer.Protocol;

namespace EmailPlatform.Delivery.Tests.Smtp;

/// <summary>The SMTP attempt against a real SMTP server over a socket, scripted per test.</summary>
public sealed class SmtpRelayClientTests : IAsyncLifetime
{
    private const string Accepted = "alice@example.com";
    private const string Unknown = "nobody@example.com";
    private const string Busy = "busy@example.com";

    private ScriptedSmtpServer _relay = null!;

    public async Task InitializeAsync() => _relay = await ScriptedSmtpServer.StartAsync();

    public async Task DisposeAsync() => await _relay.DisposeAsync();

    [Fact]
    public async Task OneRecipientRefused550AndOne451BounceAndDeferOnlyThoseTwo()
    {
        _relay.RcptReplies[Unknown] = Reply(550, "5.1.1 User unknown");
        _relay.RcptReplies[Busy] = Reply(451, "4.2.0 Mailbox busy");
        var email = TestEmails.Create(to: [Accepted, Unknown], bcc: [Busy]);

        var outcomes = await SendAsync(email);

        var delivered = Outcome(outcomes, Accepted);
        Assert.Equal(RecipientOutcomeKind.Delivered, delivered.Kind);
        Assert.Equal(250, delivered.Reply!.Code);
        Assert.Null(delivered.Reason);

        var bounced = Outcome(outcomes, Unknown);
        Assert.Equal(RecipientOutcomeKind.Bounced, bounced.Kind);
        Assert.Equal(new SmtpReply(550, "5.1.1", bounced.Reply!.Text), bounced.Reply);
        Assert.StartsWith("5.1.1 User unknown", bounced.Reply.Text, StringComparison.Ordinal);

        var deferred = Outcome(outcomes, Busy);
        Assert.Equal(RecipientOutcomeKind.Deferred, deferred.Kind);
        Assert.Equal(451, deferred.Reply!.Code);
        Assert.Equal("4.2.0", deferred.Reply.EnhancedCode);
        Assert.Contains("RCPT TO", deferred.Reason, StringComparison.Ordinal);

        var received = Assert.Single(_relay.Received);
        Assert.Equal("bounces@emailplatform.local", received.MailFrom);
        Assert.Equal([Accepted], received.RcptTo);
    }

    [Fact]
    public async Task RelayReceivesTheMessageWithItsMessageIdSubjectAndBodyAndNoBcc()
    {
        var email = TestEmails.Create(to: [Accepted], bcc: ["hidden@example.com"]);

        var outcomes = await SendAsync(email);

        Assert.All(outcomes, o => Assert.Equal(RecipientOutcomeKind.Delivered, o.Kind));
        var received = Assert.Single(_relay.Received);
        Assert.Equal([Accepted, "hidden@example.com"], received.RcptTo);

        var message = MimeMessage.Load(new MemoryStream(received.Raw));
        Assert.Equal(email.MessageId, message.MessageId);
        Assert.Equal(email.Subject, message.Subject);
        Assert.Equal(email.Text, message.TextBody?.Trim());
        Assert.Equal(email.Html, message.HtmlBody?.Trim());
        Assert.Empty(message.Bcc);
        Assert.DoesNotContain("hidden@example.com", Encoding.UTF8.GetString(received.Raw), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(452, "4.3.1 Insufficient system storage", "Deferred")]
    [InlineData(554, "5.6.0 Message content rejected", "Bounced")]
    public async Task ReplyToTheMessageDataAppliesToEveryAcceptedRecipient(int code, string text, string expected)
    {
        _relay.RcptReplies[Unknown] = Reply(550, "5.1.1 User unknown");
        _relay.DataReply = Reply(code, text);
        var email = TestEmails.Create(to: [Accepted, "bob@example.com", Unknown]);

        var outcomes = await SendAsync(email);

        foreach (var recipient in new[] { Accepted, "bob@example.com" })
        {
            var outcome = Outcome(outcomes, recipient);
            Assert.Equal(Enum.Parse<RecipientOutcomeKind>(expected), outcome.Kind);
            Assert.Equal(code, outcome.Reply!.Code);
            Assert.Equal(text[..5], outcome.Reply.EnhancedCode);
            Assert.Contains("DATA", outcome.Reason, StringComparison.Ordinal);
        }

        Assert.Equal(RecipientOutcomeKind.Bounced, Outcome(outcomes, Unknown).Kind);
        Assert.Equal(550, Outcome(outcomes, Unknown).Reply!.Code);
    }

    [Fact]
    public async Task EveryRecipientRefusedKeepsEachRecipientsOwnReply()
    {
        _relay.RcptReplies[Unknown] = Reply(550, "5.1.1 User unknown");
        _relay.RcptReplies[Busy] = Reply(451, "4.2.0 Mailbox busy");

        var outcomes = await SendAsync(TestEmails.Create(to: [Unknown, Busy]));

        Assert.Equal(RecipientOutcomeKind.Bounced, Outcome(outcomes, Unknown).Kind);
        Assert.Equal(550, Outcome(outcomes, Unknown).Reply!.Code);
        Assert.Equal(RecipientOutcomeKind.Deferred, Outcome(outcomes, Busy).Kind);
        Assert.Equal(451, Outcome(outcomes, Busy).Reply!.Code);
        Assert.Empty(_relay.Received);
    }

    [Theory]
    [InlineData(451, "4.7.1 Sender greylisted", "Deferred")]
    [InlineData(553, "5.7.1 Sender address rejected", "Bounced")]
    public async Task RefusedMailFromAppliesToEveryRecipient(int code, string text, string expected)
    {
        _relay.MailFromReply = Reply(code, text);
        _relay.RcptReplies[Unknown] = Reply(550, "5.1.1 User unknown");

        var outcomes = await SendAsync(TestEmails.Create(to: [Accepted, Unknown]));

        Assert.Equal(2, outcomes.Count);
        Assert.All(outcomes, o =>
        {
            Assert.Equal(Enum.Parse<RecipientOutcomeKind>(expected), o.Kind);
            Assert.Equal(code, o.Reply!.Code);
            Assert.Contains("MAIL FROM", o.Reason, StringComparison.Ordinal);
        });
        Assert.Empty(_relay.Received);
    }

    [Fact]
    public async Task ConnectionDroppedAfterDataDefersWithAReasonAndNoReply()
    {
        _relay.DisconnectAfterData = true;

        var outcomes = await SendAsync(TestEmails.Create(to: [Accepted, "bob@example.com"]));

        Assert.Equal(2, outcomes.Count);
        Assert.All(outcomes, o =>
        {
            Assert.Equal(RecipientOutcomeKind.Deferred, o.Kind);
            Assert.Null(o.Reply);
            Assert.Contains("scripted", o.Reason, StringComparison.Ordinal);
            Assert.StartsWith("Unknown outcome: relay 'scripted' received the whole message but closed the connection", o.Reason, StringComparison.Ordinal);
        });
    }

    [Fact]
    public async Task ConnectionDroppedMidDataDefersAsATransportFaultNotAnUnknownOutcome()
    {
        // The relay reads the first line of the message and closes: the rest (more than any socket buffer) cannot be
        // written. Unlike a drop after the final dot, the relay cannot have taken the message.
        await using var relay = new MinimalSmtpServer(closeDuringData: true);
        var email = TestEmails.Create(
            to: [Accepted, "bob@example.com"],
            attachments: [new EmailAttachment("large.bin", "application/octet-stream", null, new byte[24 * 1024 * 1024])]);

        var outcomes = await SendThroughAsync(relay, email, command: TimeSpan.FromSeconds(10), data: TimeSpan.FromSeconds(10));

        Assert.Equal(2, outcomes.Count);
        Assert.All(outcomes, o =>
        {
            Assert.Equal(RecipientOutcomeKind.Deferred, o.Kind);
            Assert.Null(o.Reply);
            Assert.True(o.SessionBroke);
            Assert.StartsWith("The SMTP session with relay 'scripted' failed (", o.Reason, StringComparison.Ordinal);
        });
        Assert.Empty(relay.Received);
    }

    [Theory]
    [InlineData("554 5.7.1 Message rejected as spam", "Bounced", 554, "5.7.1")]
    [InlineData("451-4.7.1 Try again later\r\n451 4.7.1 (greylisted)", "Deferred", 451, "4.7.1")]
    public async Task RefusalOfTheFinalDotFollowedByAClosedConnectionIsTheRelaysRefusalNotAnUnknownOutcome(
        string finalReply, string kind, int code, string enhancedCode)
    {
        // MailKit sends RSET after the refusal, which the closed connection fails: the relay's reply must still be the
        // outcome, not a transport fault after the whole message went out (an unknown outcome, retried for days).
        await using var relay = new MinimalSmtpServer(finalReply, closeAfterFinalReply: true);
        var email = TestEmails.Create();

        var outcomes = await TestRelays.Client().SendAsync(
            TestRelays.Local(relay.Port), MimeMessageFactory.Create(email), email.Envelope, new SmtpAttempt(email.EmailId), CancellationToken.None);

        var outcome = Assert.Single(outcomes);
        Assert.Single(relay.Received);
        Assert.Equal((kind, code, enhancedCode), (outcome.Kind.ToString(), outcome.Reply?.Code, outcome.Reply?.EnhancedCode));
        Assert.DoesNotContain("Unknown outcome", outcome.Reason ?? "", StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("554 5.7.1 Relay access denied", "Bounced", 554, "5.7.1")]
    [InlineData("451 4.3.0 Insufficient system storage", "Deferred", 451, "4.3.0")]
    public async Task RefusalOfTheDataCommandFollowedByAClosedConnectionIsTheRelaysRefusal(
        string refusal, string kind, int code, string enhancedCode)
    {
        // Nothing of the message went out: the relay's reply is the outcome (a bounce or a deferral with its codes),
        // never an unknown outcome, and the next message gets a connection of its own.
        await using var relay = new MinimalSmtpServer(dataCommandRefusal: refusal);
        var client = TestRelays.Client();
        var email = TestEmails.Create();

        for (var attempt = 1; attempt <= 2; attempt++)
        {
            var outcomes = await client.SendAsync(
                TestRelays.Local(relay.Port), MimeMessageFactory.Create(email), email.Envelope, new SmtpAttempt(email.EmailId), CancellationToken.None);

            var outcome = Assert.Single(outcomes);
            Assert.Equal((kind, code, enhancedCode), (outcome.Kind.ToString(), outcome.Reply?.Code, outcome.Reply?.EnhancedCode));
            Assert.DoesNotContain("Unknown outcome", outcome.Reason ?? "", StringComparison.Ordinal);
        }

        Assert.Empty(relay.Received);
        Assert.Equal(2, relay.Sessions);
    }

    [Fact]
    public async Task ReplyToTheFinalDotIsAwaitedForTheDataTimeoutNotTheCommandTimeout()
    {
        // The reply to the final dot comes twice the command timeout late (a client that waited for that timeout gives up
        // even if it started waiting late), well within the data timeout. The command timeout still bounds the greeting,
        // EHLO, MAIL and RCPT: a second left them too little on a busy machine.
        _relay.BeforeDataReply = () => Task.Delay(TimeSpan.FromSeconds(10));

        var outcomes = await SendWithTimeoutsAsync(command: TimeSpan.FromSeconds(5), data: TimeSpan.FromSeconds(30));

        Assert.Equal(RecipientOutcomeKind.Delivered, Assert.Single(outcomes).Kind);
    }

    [Fact]
    public async Task NoReplyToTheFinalDotWithinTheDataTimeoutIsAnUnknownOutcomeDeferred()
    {
        _relay.BeforeDataReply = () => Task.Delay(TimeSpan.FromSeconds(4));

        var outcomes = await SendWithTimeoutsAsync(command: TimeSpan.FromSeconds(10), data: TimeSpan.FromSeconds(1));

        var outcome = Assert.Single(outcomes);
        Assert.Equal(RecipientOutcomeKind.Deferred, outcome.Kind);
        Assert.Null(outcome.Reply);
        Assert.StartsWith("Unknown outcome: relay 'scripted' received the whole message but did not answer its end within Delivery:DataTimeout (00:00:01)",
            outcome.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task NoReplyToTheFinalDotAfterTheConsumeWasCancelledIsStillAnUnknownOutcomeDeferred()
    {
        // The consume is cancelled (shutdown, or the broker connection dropped) while the relay holds the reply to the
        // final dot: the transaction was past MAIL FROM, so its timeout is still its outcome, not a cancellation.
        using var consume = new CancellationTokenSource();
        _relay.BeforeDataReply = async () =>
        {
            await consume.CancelAsync();
            await Task.Delay(TimeSpan.FromSeconds(3));
        };
        _relay.RcptReplies[Busy] = Reply(451, "4.2.0 Mailbox busy");
        var email = TestEmails.Create(to: [Accepted, Busy]);
        var client = TestRelays.Client(new DeliveryOptions
        {
            ConnectTimeout = TimeSpan.FromSeconds(10), CommandTimeout = TimeSpan.FromSeconds(10), DataTimeout = TimeSpan.FromSeconds(1),
        });

        var outcomes = await client.SendAsync(
            TestRelays.Local(_relay.Port), MimeMessageFactory.Create(email), email.Envelope, new SmtpAttempt(email.EmailId), consume.Token);

        Assert.True(consume.IsCancellationRequested);
        var unknown = Outcome(outcomes, Accepted);
        Assert.Equal(RecipientOutcomeKind.Deferred, unknown.Kind);
        Assert.StartsWith("Unknown outcome: relay 'scripted' received the whole message but did not answer its end", unknown.Reason, StringComparison.Ordinal);
        Assert.True(unknown.SessionBroke);
        // The refusal the relay gave before is kept, not lost with the session.
        Assert.Equal(451, Outcome(outcomes, Busy).Reply?.Code);
    }

    [Fact]
    public async Task RelayTricklingItsReplyToTheFinalDotIsAnUnknownOutcomeAfterTheDataTimeout()
    {
        // A continuation line every 200 ms: no single read waits for the 1 s timeout, but the reply never ends. The
        // data timeout bounds the message and its final dot together, not each read.
        await using var relay = new MinimalSmtpServer(trickleFinalReply: TimeSpan.FromMilliseconds(200));
        var email = TestEmails.Create();
        var outcomes = await SendThroughAsync(relay, email, command: TimeSpan.FromSeconds(10), data: TimeSpan.FromSeconds(1));

        var outcome = Assert.Single(outcomes);
        Assert.Equal(RecipientOutcomeKind.Deferred, outcome.Kind);
        Assert.StartsWith("Unknown outcome: relay 'scripted' received the whole message but did not answer its end within Delivery:DataTimeout (00:00:01)",
            outcome.Reason, StringComparison.Ordinal);
        Assert.Single(relay.Received);
    }

    [Fact]
    public async Task RelayTricklingItsReplyToRcptToIsDeferredNamingTheTransactionsBound()
    {
        // Every read gets a line within the 3 s command timeout, but the reply never ends: the transaction's own bound
        // (three command timeouts and the data timeout, 10 s) ends it, and the reason names that bound, not the command
        // timeout. (One second for each command left the greeting and EHLO too little on a busy machine.)
        await using var relay = new MinimalSmtpServer(trickleRcptReply: TimeSpan.FromMilliseconds(200));
        var email = TestEmails.Create();
        var outcomes = await SendThroughAsync(relay, email, command: TimeSpan.FromSeconds(3), data: TimeSpan.FromSeconds(1));

        var outcome = Assert.Single(outcomes);
        Assert.Equal(RecipientOutcomeKind.Deferred, outcome.Kind);
        Assert.Equal("Relay 'scripted' did not finish the mail transaction within 00:00:10 (three times Delivery:CommandTimeout plus Delivery:DataTimeout).",
            outcome.Reason);
        Assert.Empty(relay.Received);
    }

    [Fact]
    public async Task RelayThatStopsReadingTheMessageIsDeferredNamingTheDataTimeout()
    {
        // The relay answers DATA, then reads nothing: a message larger than the socket buffers cannot be written to the
        // end. The data timeout (not the command timeout, 10 s) bounds it, and since the message did not all go out, it
        // is a plain transport fault, not an unknown outcome.
        await using var relay = new MinimalSmtpServer(stallData: true);
        var email = TestEmails.Create(attachments: [new EmailAttachment("large.bin", "application/octet-stream", null, new byte[24 * 1024 * 1024])]);
        var outcomes = await SendThroughAsync(relay, email, command: TimeSpan.FromSeconds(10), data: TimeSpan.FromSeconds(1));

        var outcome = Assert.Single(outcomes);
        Assert.Equal(RecipientOutcomeKind.Deferred, outcome.Kind);
        Assert.Null(outcome.Reply);
        Assert.Equal("Timed out sending the message to relay 'scripted' (Delivery:DataTimeout 00:00:01).", outcome.Reason);
    }

    [Fact]
    public async Task NothingListeningDefersEveryRecipientWithAReason()
    {
        var port = TestRelays.UnusedPort();
        var email = TestEmails.Create(to: [Accepted, "bob@example.com"], cc: ["carol@example.com"]);

        var outcomes = await TestRelays.Client().SendAsync(
            TestRelays.Local(port), MimeMessageFactory.Create(email), email.Envelope, new SmtpAttempt(email.EmailId), CancellationToken.None);

        Assert.Equal(3, outcomes.Count);
        Assert.All(outcomes, o =>
        {
            Assert.Equal(RecipientOutcomeKind.Deferred, o.Kind);
            Assert.Null(o.Reply);
            Assert.Contains("ConnectionRefused", o.Reason, StringComparison.Ordinal);
            Assert.Contains("'scripted'", o.Reason, StringComparison.Ordinal);
            Assert.DoesNotContain("127.0.0.1", o.Reason, StringComparison.Ordinal);
            Assert.DoesNotContain(port.ToString(System.Globalization.CultureInfo.InvariantCulture), o.Reason, StringComparison.Ordinal);
        });
    }

    [Fact]
    public async Task RelayThatNeverGreetsDefersAfterTheConnectTimeout()
    {
        using var silent = new TcpListener(IPAddress.Loopback, 0);
        silent.Start();
        var port = ((IPEndPoint)silent.LocalEndpoint).Port;
        var email = TestEmails.Create();
        var client = TestRelays.Client(new DeliveryOptions { ConnectTimeout = TimeSpan.FromMilliseconds(500), CommandTimeout = TimeSpan.FromSeconds(30) });

        var outcomes = await client.SendAsync(TestRelays.Local(port), MimeMessageFactory.Create(email), email.Envelope, new SmtpAttempt(email.EmailId), CancellationToken.None);

        var outcome = Assert.Single(outcomes);
        Assert.Equal(RecipientOutcomeKind.Deferred, outcome.Kind);
        Assert.Contains("Timed out connecting", outcome.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RequiredStartTlsThatTheRelayDoesNotOfferDefers()
    {
        var email = TestEmails.Create();

        var outcomes = await TestRelays.Client().SendAsync(
            TestRelays.Local(_relay.Port, RelaySecurity.StartTls), MimeMessageFactory.Create(email), email.Envelope, new SmtpAttempt(email.EmailId), CancellationToken.None);

        var outcome = Assert.Single(outcomes);
        Assert.Equal(RecipientOutcomeKind.Deferred, outcome.Kind);
        Assert.Contains("STARTTLS", outcome.Reason, StringComparison.Ordinal);
        Assert.Empty(_relay.Received);
    }

    [Fact]
    public async Task InternationalizedRecipientToARelayWithoutSmtpUtf8FailsOnlyThatRecipient()
    {
        await using var minimal = new MinimalSmtpServer();
        var email = TestEmails.Create(to: [Accepted, "jörg@example.com"]);

        var outcomes = await TestRelays.Client().SendAsync(
            TestRelays.Local(minimal.Port, RelaySecurity.None), MimeMessageFactory.Create(email), email.Envelope, new SmtpAttempt(email.EmailId), CancellationToken.None);

        Assert.Equal(RecipientOutcomeKind.Delivered, Outcome(outcomes, Accepted).Kind);
        var failed = Outcome(outcomes, "jörg@example.com");
        Assert.Equal(RecipientOutcomeKind.Failed, failed.Kind);
        Assert.Equal("The recipient address needs SMTPUTF8 (the part before its '@' is not ASCII), which relay 'scripted' does not support.", failed.Reason);
        Assert.Equal([Accepted], Assert.Single(minimal.Received));
    }

    [Theory]
    [InlineData("user@xn--bcher-kva.example")]
    [InlineData("user@bücher.example")]
    public async Task RecipientAtAnInternationalizedDomainGoesToARelayWithoutSmtpUtf8AsItsALabel(string recipient)
    {
        // Only a non-ASCII local part needs SMTPUTF8: MailKit writes the domain as its A-label when it is not used.
        await using var minimal = new MinimalSmtpServer();
        var email = TestEmails.Create(to: [recipient]);

        var outcome = Assert.Single(await TestRelays.Client().SendAsync(
            TestRelays.Local(minimal.Port, RelaySecurity.None), MimeMessageFactory.Create(email), email.Envelope, new SmtpAttempt(email.EmailId), CancellationToken.None));

        Assert.Equal((recipient, RecipientOutcomeKind.Delivered), (outcome.Recipient, outcome.Kind));
        Assert.Equal(["user@xn--bcher-kva.example"], Assert.Single(minimal.Received));
    }

    [Fact]
    public async Task SenderAtAnInternationalizedDomainGoesToARelayWithoutSmtpUtf8AsItsALabel()
    {
        await using var minimal = new MinimalSmtpServer();
        var email = TestEmails.Create(to: [Accepted]);
        email = email with { Envelope = email.Envelope with { MailFrom = "bounces@bücher.example" } };

        var outcome = Assert.Single(await TestRelays.Client().SendAsync(
            TestRelays.Local(minimal.Port, RelaySecurity.None), MimeMessageFactory.Create(email), email.Envelope, new SmtpAttempt(email.EmailId), CancellationToken.None));

        Assert.Equal(RecipientOutcomeKind.Delivered, outcome.Kind);
        Assert.Equal("bounces@xn--bcher-kva.example", Assert.Single(minimal.MailFrom));
        Assert.Equal([Accepted], Assert.Single(minimal.Received));
    }

    [Fact]
    public async Task SenderWithANonAsciiLocalPartToARelayWithoutSmtpUtf8FailsEveryRecipientSayingWhy()
    {
        await using var minimal = new MinimalSmtpServer();
        var email = TestEmails.Create(to: [Accepted, "user@bücher.example"]);
        email = email with { Envelope = email.Envelope with { MailFrom = "jörg@example.com" } };

        var outcomes = await TestRelays.Client().SendAsync(
            TestRelays.Local(minimal.Port, RelaySecurity.None), MimeMessageFactory.Create(email), email.Envelope, new SmtpAttempt(email.EmailId), CancellationToken.None);

        Assert.Equal(2, outcomes.Count);
        Assert.All(outcomes, o => Assert.Equal(RecipientOutcomeKind.Failed, o.Kind));
        Assert.All(outcomes, o => Assert.StartsWith("The sender address needs SMTPUTF8", o.Reason, StringComparison.Ordinal));
        Assert.Empty(minimal.MailFrom);
    }

    [Fact]
    public async Task InternationalizedRecipientToARelayWithSmtpUtf8IsSent()
    {
        var email = TestEmails.Create(to: ["jörg@example.com"]);

        var outcome = Assert.Single(await SendAsync(email));

        Assert.Equal(RecipientOutcomeKind.Delivered, outcome.Kind);
        Assert.Equal(["jörg@example.com"], Assert.Single(_relay.Received).RcptTo);
    }

    [Fact]
    public async Task ShutdownCancellationIsNotTurnedIntoAnOutcome()
    {
        var email = TestEmails.Create();
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => TestRelays.Client().SendAsync(
            TestRelays.Local(_relay.Port), MimeMessageFactory.Create(email), email.Envelope, new SmtpAttempt(email.EmailId), cancelled.Token));
    }

    [Fact]
    public async Task EachAttemptIsASpanWithTheRelayTheServerTheReplyAndTheMessageSize()
    {
        var email = TestEmails.Create(to: [Accepted, "bob@example.com"]);
        using var spans = new SpanRecorder(["EmailPlatform.Delivery"], activity => Equals(activity.GetTagItem("email.id"), email.EmailId));

        await SendAsync(email);

        var span = Assert.Single(spans.Stopped);
        Assert.Equal(ActivityKind.Client, span.Kind);
        Assert.Equal("scripted", span.GetTagItem("emailplatform.relay"));
        Assert.Equal("127.0.0.1", span.GetTagItem("server.address"));
        Assert.Equal(_relay.Port, span.GetTagItem("server.port"));
        Assert.Equal(2, span.GetTagItem("emailplatform.recipient.count"));
        Assert.Equal(250, span.GetTagItem("smtp.reply.code"));
        Assert.NotEqual(ActivityStatusCode.Error, span.Status);
        // The message's bytes as sent after DATA, ending in CRLF; the relay's copy leaves out that last CRLF, which it
        // reads as the start of the end-of-data "CRLF . CRLF".
        var received = Assert.Single(_relay.Received);
        Assert.Equal(received.Raw.Length + 2L, span.GetTagItem("emailplatform.message.size"));
    }

    /// <summary>
    /// An attempt that ends in an exception, not an outcome (shutdown before <c>MAIL FROM</c>, an unexpected error), is a
    /// failed attempt in its span and its duration metric, with an error type; never counted as one that succeeded.
    /// </summary>
    [Theory]
    [InlineData(true, "canceled")]
    [InlineData(false, "unexpected")]
    public async Task AttemptThatThrowsBeforeMailFromIsAFailedSpanAndAttemptWithAnErrorType(bool shutdown, string errorType)
    {
        var email = TestEmails.Create();
        using var spans = new SpanRecorder(["EmailPlatform.Delivery"], activity => Equals(activity.GetTagItem("email.id"), email.EmailId));
        var meters = new ServiceCollection().AddMetrics().BuildServiceProvider().GetRequiredService<IMeterFactory>();
        using var metrics = new MetricsCollector(meters);
        var options = new DeliveryOptions { ConnectTimeout = TimeSpan.FromSeconds(10), CommandTimeout = TimeSpan.FromSeconds(10) };
        var client = new SmtpRelayClient(Options.Create(options), TestRelays.Pools(options), new DeliveryMetrics(meters), NullLogger<SmtpRelayClient>.Instance);
        using var stopping = new CancellationTokenSource();
        var attempt = new SmtpAttempt(email.EmailId)
        {
            BeforeTransaction = async token =>
            {
                if (shutdown)
                {
                    await stopping.CancelAsync();
                    token.ThrowIfCancellationRequested();
                }

                throw new InvalidOperationException("Something no one expected.");
            },
        };

        var thrown = await Assert.ThrowsAnyAsync<Exception>(() =>
            client.SendAsync(TestRelays.Local(_relay.Port), MimeMessageFactory.Create(email), email.Envelope, attempt, stopping.Token));

        Assert.Equal(shutdown, thrown is OperationCanceledException);
        var span = Assert.Single(spans.Stopped);
        Assert.Equal(ActivityStatusCode.Error, span.Status);
        Assert.Equal(errorType, span.GetTagItem("error.type"));
        var recorded = Assert.Single(metrics.Of("emailplatform.smtp.attempt.duration"));
        Assert.Equal(errorType, recorded.Tags.GetValueOrDefault("error.type"));
        Assert.Empty(_relay.Received);
    }

    /// <summary>Sends one email through a <see cref="MinimalSmtpServer"/> with the given command and data timeouts, within 20 s.</summary>
    private static Task<IReadOnlyList<RecipientOutcome>> SendThroughAsync(MinimalSmtpServer relay, SendEmail email, TimeSpan command, TimeSpan data) =>
        TestRelays.Client(new DeliveryOptions { ConnectTimeout = TimeSpan.FromSeconds(10), CommandTimeout = command, DataTimeout = data })
            .SendAsync(TestRelays.Local(relay.Port, RelaySecurity.None), MimeMessageFactory.Create(email), email.Envelope, new SmtpAttempt(email.EmailId), CancellationToken.None)
            .WaitAsync(TimeSpan.FromSeconds(20));

    /// <summary>Sends one email to the scripted relay with the given command and final-dot timeouts.</summary>
    private async Task<IReadOnlyList<RecipientOutcome>> SendWithTimeoutsAsync(TimeSpan command, TimeSpan data)
    {
        var email = TestEmails.Create();
        var client = TestRelays.Client(new DeliveryOptions { ConnectTimeout = TimeSpan.FromSeconds(10), CommandTimeout = command, DataTimeout = data });
        return await client.SendAsync(TestRelays.Local(_relay.Port), MimeMessageFactory.Create(email), email.Envelope, new SmtpAttempt(email.EmailId), CancellationToken.None);
    }

    private Task<IReadOnlyList<RecipientOutcome>> SendAsync(SendEmail email) =>
        TestRelays.Client().SendAsync(TestRelays.Local(_relay.Port), MimeMessageFactory.Create(email), email.Envelope, new SmtpAttempt(email.EmailId), CancellationToken.None);

    private static RecipientOutcome Outcome(IReadOnlyList<RecipientOutcome> outcomes, string recipient) =>
        Assert.Single(outcomes, o => o.Recipient == recipient);

    private static SmtpResponse Reply(int code, string text) => new((SmtpReplyCode)code, text);
}
