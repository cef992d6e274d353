using EmailPlatform.Contracts;
using EmailPlatform.Delivery.Claims;
using EmailPlatform.Delivery.Relays;
using EmailPlatform.Delivery.Smtp;
using EmailPlatform.Delivery.Suppressions;
using MassTransit;

namespace EmailPlatform.Delivery.Sending;

/// <summary>
/// Sends one <see cref="SendEmail"/>: builds the message, claims its recipients (<see cref="DeliveryLedger"/>), makes
/// one SMTP attempt for those it claimed, records and publishes one outcome event per recipient
/// (<see cref="EmailDelivered"/>, <see cref="EmailDeferred"/> with its next attempt, <see cref="EmailBounced"/> or
/// <see cref="EmailFailed"/>). Recipients already recorded are not sent again; their outcome is re-published.
/// Claimed recipients on the suppression list (<see cref="ISuppressionList"/>, when the host has one) are not sent:
/// they are recorded final and published as <see cref="EmailSuppressed"/>; when every one is, no SMTP session opens.
/// </summary>
internal sealed class EmailSender(
    RelayRouter relays,
    SmtpRelayClient smtp,
    DeliveryLedger ledger,
    Dkim.DkimSigning dkim,
    DeliveryMetrics metrics,
    ILogger<EmailSender> logger,
    ISuppressionList? suppressions = null)
{
    public async Task SendAsync(SendEmail email, IPublishEndpoint publisher, CancellationToken cancellationToken)
    {
        // Malformed input throws here, before anything is claimed: the command faults and its recipients fail.
        var message = MimeMessageFactory.Create(email);
        dkim.Sign(message);
        var claim = await ledger.ClaimAsync(email, DeliveryLedger.RecipientsOf(email), cancellationToken);

        foreach (var record in claim.AlreadyRecorded)
        {
            await RecordedOutcomes.PublishAsync(publisher, record, cancellationToken);
        }

        if (claim.ToSend.Count == 0)
        {
            return;
        }

        IReadOnlyList<RecipientOutcome> outcomes;
        string? relayName = null;
        try
        {
            var suppressed = await FindSuppressedAsync(claim, cancellationToken);
            var rcptTo = claim.ToSend.Select(r => r.Recipient).Where(r => suppressed.All(s => s.Recipient != r)).ToList();
            outcomes = suppressed;
            if (rcptTo.Count > 0)
            {
                IReadOnlyList<RecipientOutcome> sent;
                (sent, relayName) = await SendThroughRelaysAsync(email.EmailId, message, email.Envelope with { RcptTo = rcptTo }, cancellationToken);
                outcomes = [.. suppressed, .. sent];
            }
        }
        catch (Exception ex)
        {
            // Shutdown or an unexpected error before the relay answered: hand the claim back for the next attempt.
            await ReleaseAsync(email, claim, ex);
            throw;
        }

        // The relay has answered: record it even if shutdown begins now (RecordAsync does not take the token).
        // A crash between the relay's answer and this write is the one duplicate window (see DeliveryLedger).
        var recorded = await ledger.RecordAsync(email, claim, relayName, outcomes);

        // Publishing may fail (broker down): the consumer's retry then finds the outcomes recorded and publishes them
        // again under the same event ids, without sending anything.
        foreach (var record in recorded)
        {
            await RecordedOutcomes.PublishAsync(publisher, record, CancellationToken.None);
            metrics.RecordOutcome(relayName ?? "none", RecordedOutcomes.KindOf(record.State));
        }

        Log.Outcome(logger, email.EmailId, recorded.Count > 0 ? recorded.Max(r => r.Attempt) : 0, relayName ?? "none",
            Count(recorded, RecipientOutcomeKind.Delivered), Count(recorded, RecipientOutcomeKind.Deferred),
            Count(recorded, RecipientOutcomeKind.Bounced), Count(recorded, RecipientOutcomeKind.Failed),
            Count(recorded, RecipientOutcomeKind.Suppressed));
    }

    /// <summary>
    /// The claimed recipients on the suppression list, looked up concurrently. The list answers "not suppressed" when
    /// it cannot tell, so only shutdown makes this throw.
    /// </summary>
    private async Task<IReadOnlyList<RecipientOutcome>> FindSuppressedAsync(Claim claim, CancellationToken cancellationToken)
    {
        if (suppressions is null)
        {
            return [];
        }

        var reasons = await Task.WhenAll(claim.ToSend.Select(r => suppressions.FindAsync(r.Recipient, cancellationToken).AsTask()));
        return claim.ToSend.Zip(reasons)
            .Where(p => p.Second is not null)
            .Select(p => new RecipientOutcome(p.First.Recipient, RecipientOutcomeKind.Suppressed, null, p.Second))
            .ToList();
    }

    /// <summary>
    /// Tries the relays in routing order. It moves on to the next relay only when the current one failed before any
    /// mail transaction began (nothing reached it, so nothing can be duplicated); once a relay has answered inside a
    /// transaction, or the session broke mid-message, that is the attempt's outcome.
    /// </summary>
    private async Task<(IReadOnlyList<RecipientOutcome> Outcomes, string? Relay)> SendThroughRelaysAsync(
        Guid emailId, MimeKit.MimeMessage message, Envelope envelope, CancellationToken cancellationToken)
    {
        IReadOnlyList<RecipientOutcome>? outcomes = null;
        string? used = null;
        foreach (var relay in relays.Candidates())
        {
            if (!relays.TryEnter(relay))
            {
                continue;
            }

            try
            {
                await relays.WaitForRateLimitAsync(relay, cancellationToken);
                outcomes = await smtp.SendAsync(relay, message, envelope, emailId, cancellationToken);
            }
            catch
            {
                relays.Failed(relay);
                throw;
            }

            used = relay.Name;
            var transportFailure = outcomes.All(o => o.RelayUnavailable || (o.Kind == RecipientOutcomeKind.Deferred && o.Reply is null));
            if (!transportFailure)
            {
                relays.Succeeded(relay);
                break;
            }

            if (relays.Failed(relay))
            {
                Log.BreakerOpened(logger, relay.Name);
            }

            if (!outcomes.All(o => o.RelayUnavailable))
            {
                break;
            }
        }

        return outcomes is null
            ? (envelope.RcptTo.Select(r => new RecipientOutcome(r, RecipientOutcomeKind.Deferred, null,
                "No relay is available: every relay is failing and skipped for a cool-down.")).ToList(), null)
            : (outcomes, used);
    }

    private async Task ReleaseAsync(SendEmail email, Claim claim, Exception cause)
    {
        try
        {
            await ledger.ReleaseAsync(email, claim);
        }
        catch (Exception ex)
        {
            // The claim then lapses after Delivery:ClaimLease and the scheduler hands it back: late, not lost.
            Log.ReleaseFailed(logger, ex, email.EmailId, cause.GetType().Name);
        }
    }

    private static int Count(IEnumerable<Storage.DeliveryRecord> records, RecipientOutcomeKind kind) =>
        records.Count(r => RecordedOutcomes.KindOf(r.State) == kind);
}
