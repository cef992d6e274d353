using System.Diagnostics;
using System.Globalization;
using EmailPlatform.Contracts;
using EmailPlatform.Delivery.Relays;
using MailKit.Net.Smtp;
using Microsoft.Extensions.Options;
using MimeKit;

namespace EmailPlatform.Delivery.Smtp;

/// <summary>
/// One SMTP attempt: sends one message through one relay with the explicit envelope and classifies the outcome
/// per recipient. SMTP replies and transport faults become outcomes, never exceptions; only a cancelled
/// <c>cancellationToken</c> (shutdown) or an unexpected error escapes.
/// </summary>
/// <remarks>Connects per message for now: connection pooling is a later issue.</remarks>
internal sealed class SmtpRelayClient(IOptions<DeliveryOptions> options, DeliveryMetrics metrics, ILogger<SmtpRelayClient> logger)
{
    public async Task<IReadOnlyList<RecipientOutcome>> SendAsync(
        RelayOptions relay, MimeMessage message, Envelope envelope, Guid emailId, CancellationToken cancellationToken)
    {
        var settings = options.Value;
        var sender = MailboxAddress.Parse(envelope.MailFrom);
        var recipients = envelope.RcptTo
            .Distinct(StringComparer.OrdinalIgnoreCase)
            .Select(address => new SmtpRecipient(address, MailboxAddress.Parse(address)))
            .ToList();

        using var activity = StartActivity(relay, emailId, recipients.Count);
        Log.Sending(logger, emailId, relay.Name, relay.Host, relay.Port, recipients.Count);
        var started = Stopwatch.GetTimestamp();

        using var client = new RecipientRecordingSmtpClient { Timeout = (int)settings.CommandTimeout.TotalMilliseconds };
        var connected = false;
        SmtpReply? reply = null;
        string? errorType = null;
        IReadOnlyList<RecipientOutcome> outcomes;
        try
        {
            await ConnectAsync(client, relay, settings.ConnectTimeout, cancellationToken);
            connected = true;

            // MailKit returns from SendAsync only when the reply to the final dot is exactly 250: any other code
            // throws SmtpCommandException. So 250 is the relay's real code here; the text is the relay's own.
            var text = await client.SendAsync(message, sender, recipients.Select(r => r.Mailbox), cancellationToken);
            reply = SmtpReplyClassifier.ToReply((int)SmtpStatusCode.Ok, text);
            outcomes = RecipientOutcomes.FromReply(recipients, client.Rejected, reply, SmtpStage.Data);
            Log.Accepted(logger, emailId, relay.Name, reply.Code, reply.EnhancedCode, client.Rejected.Count);
        }
        catch (SmtpCommandException) when (connected && client.SenderRefusal is { } refusal)
        {
            reply = RecipientOutcomes.ToReply(refusal);
            errorType = reply.Code.ToString(CultureInfo.InvariantCulture);
            Log.Refused(logger, emailId, relay.Name, SmtpStage.MailFrom.Describe(), reply.Code, reply.EnhancedCode);
            outcomes = RecipientOutcomes.AllFromReply(recipients, reply, SmtpStage.MailFrom);
        }
        catch (SmtpCommandException) when (connected && recipients.All(r => client.Rejected.ContainsKey(r.Mailbox)))
        {
            // Every RCPT TO was refused: the 554 "No recipients were accepted." is MailKit's, not the relay's.
            outcomes = RecipientOutcomes.AllRefusedAtRcptTo(recipients, client.Rejected);
            errorType = "no_recipients_accepted";
        }
        catch (SmtpCommandException ex) when (connected)
        {
            // Refused at DATA or at the final dot: applies to every recipient not already refused at RCPT TO.
            reply = SmtpReplyClassifier.ToReply((int)ex.StatusCode, ex.Message);
            errorType = reply.Code.ToString(CultureInfo.InvariantCulture);
            Log.Refused(logger, emailId, relay.Name, SmtpStage.Data.Describe(), reply.Code, reply.EnhancedCode);
            outcomes = RecipientOutcomes.FromReply(recipients, client.Rejected, reply, SmtpStage.Data);
        }
        catch (SmtpCommandException ex)
        {
            // Refused at the greeting, EHLO, STARTTLS or AUTH: a problem with the relay, not with the recipients.
            reply = SmtpReplyClassifier.ToReply((int)ex.StatusCode, ex.Message);
            errorType = reply.Code.ToString(CultureInfo.InvariantCulture);
            Log.Refused(logger, emailId, relay.Name, SmtpStage.Connect.Describe(), reply.Code, reply.EnhancedCode);
            outcomes = RecipientOutcomes.Deferred(recipients, client.Rejected, reply,
                $"Relay '{relay.Name}' answered {reply.Code} at {SmtpStage.Connect.Describe()}.");
        }
        catch (Exception ex) when (SmtpFaults.IsTransportFault(ex) && !cancellationToken.IsCancellationRequested)
        {
            var reason = SmtpFaults.Describe(ex, relay, connecting: !connected, settings);
            errorType = ex.GetType().Name;
            Log.TransportFault(logger, ex, emailId, relay.Name, reason);
            outcomes = client.SenderRefusal is { } refusal
                ? RecipientOutcomes.AllFromReply(recipients, RecipientOutcomes.ToReply(refusal), SmtpStage.MailFrom)
                : RecipientOutcomes.Deferred(recipients, client.Rejected, null, reason);
        }
        finally
        {
            metrics.RecordAttempt(relay.Name, Stopwatch.GetElapsedTime(started), errorType);
        }

        await QuitAsync(client, emailId, relay);
        Complete(activity, reply, errorType);
        return outcomes;
    }

    private static async Task ConnectAsync(SmtpClient client, RelayOptions relay, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var connectTimeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        connectTimeout.CancelAfter(timeout);

        await client.ConnectAsync(relay.Host, relay.Port, SmtpFaults.ToSecureSocketOptions(relay.Security), connectTimeout.Token);
        if (!string.IsNullOrEmpty(relay.Username))
        {
            await client.AuthenticateAsync(relay.Username, relay.Password ?? "", connectTimeout.Token);
        }
    }

    /// <summary>Ends the session politely; the outcome is already decided, so a failing QUIT changes nothing.</summary>
    private async Task QuitAsync(SmtpClient client, Guid emailId, RelayOptions relay)
    {
        if (!client.IsConnected)
        {
            return;
        }

        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await client.DisconnectAsync(quit: true, timeout.Token);
        }
        catch (Exception ex) when (SmtpFaults.IsTransportFault(ex) || ex is SmtpCommandException)
        {
            Log.QuitFailed(logger, ex, emailId, relay.Name);
        }
    }

    private static Activity? StartActivity(RelayOptions relay, Guid emailId, int recipientCount)
    {
        var activity = DeliveryTelemetry.Source.StartActivity("smtp send", ActivityKind.Client);
        activity?.SetTag(DeliveryTelemetry.EmailId, emailId)
            .SetTag(DeliveryTelemetry.Relay, relay.Name)
            .SetTag(DeliveryTelemetry.ServerAddress, relay.Host)
            .SetTag(DeliveryTelemetry.ServerPort, relay.Port)
            .SetTag(DeliveryTelemetry.RecipientCount, recipientCount);
        return activity;
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
}
