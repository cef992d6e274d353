using System.Diagnostics;
using System.Globalization;
using EmailPlatform.Contracts;
using EmailPlatform.Delivery.Relays;
using System.Net.Sockets;
using MailKit.Net.Smtp;
using Microsoft.Extensions.Options;
using MimeKit;
using Polly;
using Polly.Retry;

namespace EmailPlatform.Delivery.Smtp;

/// <summary>
/// One SMTP attempt: sends one message through one relay with the explicit envelope and classifies the outcome
/// per recipient. SMTP replies and transport faults become outcomes, never exceptions; only a cancelled
/// <c>cancellationToken</c> (shutdown) before <c>MAIL FROM</c>, or an unexpected error, escapes.
/// </summary>
/// <remarks>
/// Connections come from the relay's <see cref="SmtpConnectionPool"/>: reused while they work, closed after a
/// transport fault. Only the connect is retried in place (Polly: a few short, jittered tries for a refused or reset
/// connection), and a transaction that finds its pooled connection already dead before the relay answered
/// <c>MAIL FROM</c> (<see cref="IsStale"/>), once, on a new connection; everything longer is a deferral, persisted by
/// the caller.
/// </remarks>
internal sealed class SmtpRelayClient(
    IOptions<DeliveryOptions> options,
    SmtpConnectionPools pools,
    DeliveryMetrics metrics,
    ILogger<SmtpRelayClient> logger)
{
    private readonly ResiliencePipeline _connectRetry = ConnectRetry(options.Value, logger);

    public async Task<IReadOnlyList<RecipientOutcome>> SendAsync(
        RelayOptions relay, MimeMessage message, Envelope envelope, SmtpAttempt attempt, CancellationToken cancellationToken)
    {
        var emailId = attempt.EmailId;
        var sender = MailboxAddress.Parse(envelope.MailFrom);
        var recipients = envelope.RcptTo
            .Distinct(StringComparer.OrdinalIgnoreCase)
            .Select(address => new SmtpRecipient(address, MailboxAddress.Parse(address)))
            .ToList();

        using var activity = StartActivity(relay, emailId, recipients.Count, message);
        Log.Sending(logger, emailId, relay.Name, relay.Host, relay.Port, recipients.Count);
        var started = Stopwatch.GetTimestamp();

        Transaction? sent;
        try
        {
            var pool = pools.For(relay);
            var connection = await pool.RentAsync(attempt.Priority, cancellationToken);
            if (attempt.WaitForRelay is { } wait)
            {
                try
                {
                    await wait(relay, cancellationToken);
                }
                catch
                {
                    pool.Return(connection, reusable: true);
                    throw;
                }
            }

            sent = await TransactAsync(pool, connection, relay, message, sender, recipients, attempt, started, cancellationToken);
            if (sent is null)
            {
                // The pooled connection was dead before this transaction began (the relay had closed it after its last
                // 250: a per-connection message limit, a restart, a load balancer's drain), and nothing of the transaction
                // reached the relay. Not the relay's failure, nor the message's: a fresh connection, in the same pool
                // slot, carries it. Once only: a fresh connection that fails is the relay's failure, classified as usual.
                sent = await TransactAsync(pool, pool.Replace(connection), relay, message, sender, recipients, attempt, started, cancellationToken)
                    ?? throw new InvalidOperationException("A fresh connection was taken for a stale one.");
            }
        }
        catch (Exception ex)
        {
            // Shutdown (waiting for a connection, or before MAIL FROM), a lost claim or an unexpected error: the span
            // ends as a failed attempt, with the error type its metric carries, not as a success.
            activity?.SetTag(DeliveryTelemetry.ErrorType, ErrorTypeOf(ex)).SetStatus(ActivityStatusCode.Error, ex.GetType().Name);
            throw;
        }

        Complete(activity, sent.Reply, sent.ErrorType);
        return sent.Outcomes;
    }

    /// <summary>
    /// The error type of an attempt that ended in an exception rather than an outcome: <c>canceled</c> for shutdown (or
    /// a dropped broker connection), <c>claim_lost</c>, else <c>unexpected</c>. Not the exception's type name: the
    /// dashboard's and alerts' transport-fault ratio counts the error types ending in <c>Exception</c> against the
    /// relay, and neither a store error nor a bug is the relay's fault. The span's status description names the type.
    /// </summary>
    private static string ErrorTypeOf(Exception exception) => exception switch
    {
        Claims.ClaimLostException => "claim_lost",
        OperationCanceledException or Sending.NotSentForShutdownException => "canceled",
        _ => "unexpected",
    };

    /// <summary>
    /// One mail transaction over <paramref name="connection"/> (connected first when it is new), given back to the pool
    /// at the end. Returns null, with the connection closed and not given back (the caller takes a fresh one in its
    /// place, <see cref="SmtpConnectionPool.Replace"/>), when the connection came from the pool already connected and
    /// turned out to be dead before any of the transaction reached the relay (<see cref="IsStale"/>).
    /// </summary>
    private async Task<Transaction?> TransactAsync(
        SmtpConnectionPool pool, PooledConnection connection, RelayOptions relay, MimeMessage message, MailboxAddress sender,
        List<SmtpRecipient> recipients, SmtpAttempt attempt, long started, CancellationToken cancellationToken)
    {
        var settings = options.Value;
        var emailId = attempt.EmailId;
        var client = connection.Client;
        client.BeginTransaction();
        var reusable = false;
        var connected = client.IsConnected;
        var reused = connected;
        var stale = false;
        IReadOnlyList<RecipientOutcome> failed = [];
        var sendable = recipients;
        SmtpReply? reply = null;
        string? errorType = null;
        DataTransfer? transfer = null;
        var transactionStarted = false;
        IReadOnlyList<RecipientOutcome> outcomes;
        try
        {
            if (!connected)
            {
                await _connectRetry.ExecuteAsync(
                    async token => await ConnectAsync(client, relay, settings.ConnectTimeout, token), cancellationToken);
                connected = true;
            }

            reusable = true;

            // An address whose local part is not ASCII (RFC 6531) can only go to a relay that offers SMTPUTF8: without
            // it that recipient can never be sent through this relay, so it fails now instead of being retried for days.
            // It is left out of the transaction, so the caller may try another relay for it.
            var senderNeedsUtf8 = NeedsSmtpUtf8(sender);
            var unsendable = client.Capabilities.HasFlag(SmtpCapabilities.UTF8) ? []
                : senderNeedsUtf8 ? recipients
                : recipients.Where(r => NeedsSmtpUtf8(r.Mailbox)).ToList();
            failed = RecipientOutcomes.Failed(unsendable, Utf8Unsupported(relay, senderNeedsUtf8))
                .Select(o => o with { RelayLacksSmtpUtf8 = true }).ToList();
            sendable = recipients.Except(unsendable).ToList();
            if (sendable.Count == 0)
            {
                errorType = "smtputf8_unsupported";
                outcomes = failed;
            }
            else
            {
                // MailKit returns from SendAsync only when the reply to the final dot is exactly 250: any other code
                // throws SmtpCommandException. So 250 is the relay's real code here; the text is the relay's own.
                if (attempt.BeforeTransaction is { } beforeTransaction)
                {
                    await beforeTransaction(cancellationToken);
                }

                // Once MAIL FROM goes out the transaction is finished, whatever happens to the consumer: each command is
                // bounded by Delivery:CommandTimeout (the client's Timeout), the message and its final dot together by
                // Delivery:DataTimeout (the transfer's deadline, not the consume token). Abandoning it on the consume
                // token (which a dropped broker connection cancels, as does shutdown) could leave a relay's 250
                // unrecorded and the message sent again; finished, its outcome is recorded and a redelivery sends
                // nothing. That holds for its faults too (transactionStarted): a timeout or a dropped connection after
                // the token was cancelled is still this transaction's outcome (an unknown outcome once the whole message
                // went out), not a shutdown.
                connection.Messages++;
                transactionStarted = true;
                transfer = new DataTransfer(client, settings);
                string text;
                try
                {
                    text = await client.SendAsync(message, sender, sendable.Select(r => r.Mailbox), transfer.Deadline, transfer);
                }
                finally
                {
                    client.Timeout = (int)settings.CommandTimeout.TotalMilliseconds;
                }

                reply = SmtpReplyClassifier.ToReply((int)SmtpStatusCode.Ok, text);
                outcomes = [.. failed, .. RecipientOutcomes.FromReply(sendable, client.Rejected, reply, SmtpStage.Data)];
                Log.Accepted(logger, emailId, relay.Name, reply.Code, reply.EnhancedCode, client.Rejected.Count);
            }
        }
        catch (SmtpCommandException) when (connected && client.SenderRefusal is { } refusal)
        {
            reply = RecipientOutcomes.ToReply(refusal);
            errorType = reply.Code.ToString(CultureInfo.InvariantCulture);
            Log.Refused(logger, emailId, relay.Name, SmtpStage.MailFrom.Describe(), reply.Code, reply.EnhancedCode);
            outcomes = [.. failed, .. SenderRefused(RecipientOutcomes.AllFromReply(sendable, reply, SmtpStage.MailFrom), reply)];
        }
        catch (SmtpCommandException) when (connected && sendable.All(r => client.Rejected.ContainsKey(r.Mailbox)))
        {
            // Every RCPT TO was refused: the 554 "No recipients were accepted." is MailKit's, not the relay's.
            outcomes = [.. failed, .. RecipientOutcomes.AllRefusedAtRcptTo(sendable, client.Rejected)];
            errorType = "no_recipients_accepted";
        }
        catch (SmtpCommandException ex) when (connected)
        {
            // Refused at DATA or at the final dot: applies to every recipient not already refused at RCPT TO.
            reply = SmtpReplyClassifier.ToReply((int)ex.StatusCode, ex.Message);
            errorType = reply.Code.ToString(CultureInfo.InvariantCulture);
            Log.Refused(logger, emailId, relay.Name, SmtpStage.Data.Describe(), reply.Code, reply.EnhancedCode);
            outcomes = [.. failed, .. RecipientOutcomes.FromReply(sendable, client.Rejected, reply, SmtpStage.Data)];
        }
        catch (SmtpCommandException ex)
        {
            // Refused at the greeting, EHLO, STARTTLS or AUTH: a problem with the relay, not with the recipients.
            reply = SmtpReplyClassifier.ToReply((int)ex.StatusCode, ex.Message);
            errorType = reply.Code.ToString(CultureInfo.InvariantCulture);
            Log.Refused(logger, emailId, relay.Name, SmtpStage.Connect.Describe(), reply.Code, reply.EnhancedCode);
            outcomes = Unavailable(RecipientOutcomes.Deferred(recipients, client.Rejected, reply,
                $"Relay '{relay.Name}' answered {reply.Code} at {SmtpStage.Connect.Describe()}."));
        }
        catch (NotSupportedException ex) when (connected && (!cancellationToken.IsCancellationRequested || transactionStarted))
        {
            reusable = false;
            // After the session is up, MailKit says "not supported" only for what the message itself needs (SMTPUTF8):
            // retrying the same message through the same relay cannot succeed, so it fails rather than defers.
            var reason = SmtpFaults.Describe(ex, relay, connecting: false, settings);
            errorType = "not_supported";
            Log.TransportFault(logger, ex, emailId, relay.Name, relay.Host, relay.Port, reason);
            outcomes = [.. failed, .. RecipientOutcomes.Failed(sendable, reason)];
        }
        catch (Exception ex) when (reused && transactionStarted && IsStale(ex, client, transfer))
        {
            // Not counted as an attempt, nor against the relay: the caller sends the message again on a fresh connection.
            stale = true;
            Log.StaleConnectionReplaced(logger, ex, emailId, relay.Name);
            return null;
        }
        catch (MailKit.ServiceNotAuthenticatedException ex) when (connected)
        {
            // The relay refused MAIL FROM as not authenticated (530): its configuration's fault, with nothing sent, so the
            // relay is unavailable to this email (the next one may take it), as when it refuses the credentials. The
            // RCPT TO replies that came after it, out of any transaction (501, 503), are not the recipients'.
            reusable = false;
            var reason = SmtpFaults.Describe(ex, relay, connecting: false, settings);
            errorType = ex.GetType().Name;
            Log.TransportFault(logger, ex, emailId, relay.Name, relay.Host, relay.Port, reason);
            outcomes = [.. failed, .. Unavailable(RecipientOutcomes.Deferred(sendable, NoRefusals, null, reason))];
        }
        catch (Exception ex) when (SmtpFaults.IsTransportFault(ex) && (!cancellationToken.IsCancellationRequested || transactionStarted)
            && transfer is { WholeMessageSent: true })
        {
            // The relay has the whole message but no answer came: it may have taken it. Deferred like any transport
            // fault, and retried with the same Message-ID, so a receiver that did take it can recognise the second copy.
            reusable = false;
            var reason = SmtpFaults.DescribeUnknownOutcome(ex, relay, settings);
            errorType = "unknown_outcome";
            Log.UnknownOutcome(logger, ex, emailId, relay.Name, relay.Host, relay.Port);
            outcomes = [.. failed, .. Broken(RecipientOutcomes.Deferred(sendable, client.Rejected, null, reason))];
        }
        catch (Exception ex) when (SmtpFaults.IsTransportFault(ex) && (!cancellationToken.IsCancellationRequested || transactionStarted))
        {
            reusable = false;
            var reason = SmtpFaults.Describe(ex, relay, connecting: !connected, settings, transfer);
            errorType = ex.GetType().Name;
            Log.TransportFault(logger, ex, emailId, relay.Name, relay.Host, relay.Port, reason);
            // A RCPT TO reply read before the relay answered MAIL FROM came out of sequence: it is not the recipient's.
            var refusals = client.SenderAnswered ? client.Rejected : NoRefusals;
            outcomes = client.SenderRefusal is { } refusal
                ? [.. failed, .. SenderRefused(RecipientOutcomes.AllFromReply(sendable, RecipientOutcomes.ToReply(refusal), SmtpStage.MailFrom),
                    RecipientOutcomes.ToReply(refusal))]
                : connected
                    ? [.. failed, .. Broken(RecipientOutcomes.Deferred(sendable, refusals, null, reason))]
                    : Unavailable(RecipientOutcomes.Deferred(sendable, refusals, null, reason));
        }
        catch (Claims.ClaimLostException ex)
        {
            // Nothing of this message reached the relay: the connection stays clean for the next one.
            errorType = ErrorTypeOf(ex);
            reusable = true;
            throw;
        }
        catch (Exception ex)
        {
            // Shutdown before MAIL FROM, or an unexpected error: the session is in an unknown state. Counted as a failed
            // attempt, never as one that succeeded.
            errorType = ErrorTypeOf(ex);
            reusable = false;
            throw;
        }
        finally
        {
            transfer?.Dispose();
            if (!stale)
            {
                metrics.RecordAttempt(relay.Name, Stopwatch.GetElapsedTime(started), errorType);
                if (reusable && errorType is not null)
                {
                    reusable = await ResetAsync(client, relay);
                }

                pool.Return(connection, reusable);
            }
        }

        return new Transaction(outcomes, reply, errorType);
    }

    /// <summary>
    /// Whether a fault in a transaction over a reused connection means only that the connection was already dead: it
    /// broke (closed, reset, not connected) before the relay answered <c>MAIL FROM</c>, and before any of the message
    /// data was written. Nothing of the transaction was accepted then, so sending it again on a fresh connection cannot
    /// duplicate it. A relay that answered <c>MAIL FROM</c> (accepted or refused) was alive: a fault after that is the
    /// session's, as is a timeout (a relay that does not answer), and once any of the data has gone out the relay may
    /// have taken the message.
    /// </summary>
    private static bool IsStale(Exception exception, RecipientRecordingSmtpClient client, DataTransfer? transfer) =>
        exception is SmtpProtocolException or IOException or SocketException or MailKit.ServiceNotConnectedException
        && !client.SenderAnswered
        && transfer is { DataStarted: false };

    /// <summary>After a refused transaction, RSET so the pooled connection starts the next one clean; false if that fails.</summary>
    private async Task<bool> ResetAsync(RecipientRecordingSmtpClient client, RelayOptions relay)
    {
        if (!client.IsConnected)
        {
            return false;
        }

        try
        {
            using var timeout = new CancellationTokenSource(options.Value.CommandTimeout);
            await client.ResetAsync(timeout.Token);
            return true;
        }
        catch (Exception ex) when (SmtpFaults.IsTransportFault(ex) || ex is SmtpCommandException)
        {
            Log.QuitFailed(logger, ex, relay.Name);
            return false;
        }
    }

    /// <summary>
    /// Retries a connect that failed fast (refused, reset) a few times with short jittered backoff. A timeout is not
    /// retried here: it already took <c>Delivery:ConnectTimeout</c>, and the recipients are deferred instead.
    /// </summary>
    private static ResiliencePipeline ConnectRetry(DeliveryOptions options, ILogger logger) => options.ConnectRetries == 0
        ? ResiliencePipeline.Empty
        : new ResiliencePipelineBuilder().AddRetry(new RetryStrategyOptions
        {
            ShouldHandle = new PredicateBuilder().Handle<SocketException>().Handle<IOException>(),
            MaxRetryAttempts = options.ConnectRetries,
            Delay = TimeSpan.FromMilliseconds(200),
            BackoffType = DelayBackoffType.Exponential,
            UseJitter = true,
            OnRetry = args =>
            {
                Log.ConnectRetry(logger, args.Outcome.Exception, args.AttemptNumber + 1, args.RetryDelay);
                return ValueTask.CompletedTask;
            },
        }).Build();

    private static async Task ConnectAsync(SmtpClient client, RelayOptions relay, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var connectTimeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        connectTimeout.CancelAfter(timeout);
        if (client.IsConnected)
        {
            // A retry after a session that broke half-way through its start.
            await client.DisconnectAsync(quit: false, connectTimeout.Token);
        }

        // MailKit owns the socket from here and disposes of it when the session ends.
        var socket = await RelaySockets.ConnectAsync(relay.Host, relay.Port, connectTimeout.Token);
        await client.ConnectAsync(socket, relay.Host, relay.Port, SmtpFaults.ToSecureSocketOptions(relay.Security), connectTimeout.Token);
        if (!string.IsNullOrEmpty(relay.Username))
        {
            await client.AuthenticateAsync(relay.Username, relay.Password ?? "", connectTimeout.Token);
        }
    }

    /// <summary>No RCPT TO refusals: those read out of sequence are not the recipients'.</summary>
    private static readonly IReadOnlyDictionary<MailboxAddress, SmtpResponse> NoRefusals = new Dictionary<MailboxAddress, SmtpResponse>();

    private static IReadOnlyList<RecipientOutcome> Unavailable(IReadOnlyList<RecipientOutcome> outcomes) =>
        outcomes.Select(o => o with { RelayUnavailable = true }).ToList();

    private static IReadOnlyList<RecipientOutcome> Broken(IReadOnlyList<RecipientOutcome> outcomes) =>
        outcomes.Select(o => o with { SessionBroke = true }).ToList();

    /// <summary>
    /// The relay refused <c>MAIL FROM</c>, so no mail transaction began and nothing of the message reached it. A refusal
    /// about the relay itself is as if it had refused the connection (unavailable: the next relay is tried, and it counts
    /// against this one's breaker): a 421 (closing the session: shutting down, overloaded), an enhanced code of the mail
    /// system class (X.3.x: a full disk's 452 4.3.1, 4.3.2 not accepting messages), or a bare 452 (RFC 5321's
    /// insufficient system storage). Any other temporary refusal (a 451 4.7.1 rate limit, a 450 4.1.8 for a sender
    /// domain whose DNS failed) may be about this sender alone: the next relay is tried, but the relay answered, so its
    /// breaker counts it as working. A permanent refusal stands.
    /// </summary>
    private static IReadOnlyList<RecipientOutcome> SenderRefused(IReadOnlyList<RecipientOutcome> outcomes, SmtpReply reply) =>
        reply.Code == 421 || (reply.Code is >= 400 and < 500 && reply.EnhancedCode is { } enhanced && enhanced[1..].StartsWith(".3.", StringComparison.Ordinal))
            || (reply.Code == 452 && reply.EnhancedCode is null)
            ? Unavailable(outcomes)
            : reply.Code is >= 400 and < 500 ? [.. outcomes.Select(o => o with { SenderRefusedForNow = true })]
            : outcomes;

    /// <summary>
    /// Whether an envelope address can only be sent with SMTPUTF8: when its local part is not ASCII. An internationalized
    /// domain alone does not need it (MimeKit's <see cref="MailboxAddress.IsInternational"/> says true for
    /// <c>user@bücher.de</c>, and for <c>user@xn--bcher-kva.de</c>, which it decodes to Unicode): without SMTPUTF8,
    /// MailKit writes the domain in MAIL FROM and RCPT TO as its A-label (<c>xn--bcher-kva.de</c>), which every relay takes.
    /// </summary>
    private static bool NeedsSmtpUtf8(MailboxAddress mailbox) => !System.Text.Ascii.IsValid(mailbox.LocalPart);

    private static string Utf8Unsupported(RelayOptions relay, bool sender) => sender
        ? $"The sender address needs SMTPUTF8 (the part before its '@' is not ASCII), which relay '{relay.Name}' does not support."
        : $"The recipient address needs SMTPUTF8 (the part before its '@' is not ASCII), which relay '{relay.Name}' does not support.";

    private static Activity? StartActivity(RelayOptions relay, Guid emailId, int recipientCount, MimeMessage message)
    {
        var activity = DeliveryTelemetry.Source.StartActivity("smtp send", ActivityKind.Client);
        activity?.SetTag(DeliveryTelemetry.EmailId, emailId)
            .SetTag(DeliveryTelemetry.Relay, relay.Name)
            .SetTag(DeliveryTelemetry.ServerAddress, relay.Host)
            .SetTag(DeliveryTelemetry.ServerPort, relay.Port)
            .SetTag(DeliveryTelemetry.RecipientCount, recipientCount);
        if (activity is { IsAllDataRequested: true })
        {
            activity.SetTag(DeliveryTelemetry.MessageSize, MessageSize(message));
        }

        return activity;
    }

    /// <summary>
    /// The message's size as MailKit measures it for SIZE: written with CRLF line endings to a stream that only counts.
    /// It costs one more serialization of the message, so it is measured only for a span that is recorded.
    /// </summary>
    private static long MessageSize(MimeMessage message)
    {
        var format = FormatOptions.Default.Clone();
        format.NewLineFormat = NewLineFormat.Dos;
        format.EnsureNewLine = true;
        using var measuring = new MimeKit.IO.MeasuringStream();
        message.WriteTo(format, measuring);
        return measuring.Length;
    }

    private static void Complete(Activity? activity, SmtpReply? reply, string? errorType)
    {
        if (activity is null)
        {
            return;
        }

        if (reply is not null)
        {
            activity.SetTag(DeliveryTelemetry.ReplyCode, reply.Code).SetTag(DeliveryTelemetry.EnhancedCode, reply.EnhancedCode);
        }

        if (errorType is not null)
        {
            activity.SetTag(DeliveryTelemetry.ErrorType, errorType).SetStatus(ActivityStatusCode.Error);
        }
    }

    /// <summary>What one mail transaction came to: the recipients' outcomes, the relay's reply if any, the error type if any.</summary>
    private sealed record Transaction(IReadOnlyList<RecipientOutcome> Outcomes, SmtpReply? Reply, string? ErrorType);
}
