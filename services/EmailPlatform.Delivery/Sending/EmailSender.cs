using EmailPlatform.Contracts;
using EmailPlatform.Delivery.Claims;
using EmailPlatform.Delivery.Relays;
using EmailPlatform.Delivery.Smtp;
using EmailPlatform.Delivery.Suppressions;
using EmailPlatform.ServiceDefaults.Messaging;
using EmailPlatform.ServiceDefaults.Storage;
using MassTransit;
using Microsoft.Extensions.Options;

namespace EmailPlatform.Delivery.Sending;

/// <summary>
/// Sends one <see cref="SendEmail"/>: builds the message, claims its recipients (<see cref="DeliveryLedger"/>), makes
/// one SMTP attempt for those it claimed, records and publishes one outcome event per recipient
/// (<see cref="EmailDelivered"/>, <see cref="EmailDeferred"/> with its next attempt, <see cref="EmailBounced"/> or
/// <see cref="EmailFailed"/>). Recipients already recorded are not sent again; their outcome is re-published.
/// Claimed recipients on the suppression list (<see cref="ISuppressionList"/>, when the host has one) are not sent:
/// they are recorded final and published as <see cref="EmailSuppressed"/>; when every one is, no SMTP session opens.
/// An email whose <c>ExpiresAt</c> has passed is failed (expired) without SMTP. The email waits for a pooled connection
/// with its priority; its claim's lease is kept alive meanwhile and confirmed right before <c>MAIL FROM</c>
/// (<see cref="ClaimLease"/>). The content of a large email is loaded from the content store
/// (<see cref="StoredContents"/>), once its size fits the worker's <see cref="ContentBudget"/>, which it holds until the
/// send is over; if the store no longer has it, its unsent recipients fail without SMTP. What a stopping worker does
/// with a command it has not sent depends on its bus (<see cref="HoldIfStoppingAsync"/>).
/// </summary>
internal sealed class EmailSender(
    RelayRouter relays,
    SmtpRelayClient smtp,
    RecordingWindow window,
    ContentBudget contentBudget,
    DeliveryLedger ledger,
    Dkim.DkimSigning dkim,
    DeliveryMetrics metrics,
    IServiceScopeFactory scopes,
    IOptions<DeliveryOptions> options,
    TimeProvider time,
    Storage.DeliveryDbContext db,
    IHostApplicationLifetime lifetime,
    ILogger<EmailSender> logger,
    ISuppressionList? suppressions = null,
    BusTransport? transport = null)
{
    /// <summary>
    /// Whether the worker is stopping on a bus that loses what it has not delivered (the standalone host's in-memory
    /// one): a command must then not wait for the consume's cancellation, which that transport does not bring to every
    /// consume, and the host's next start puts back what the stop lost. Without a registered bus (a test host), a broker.
    /// </summary>
    private bool StoppingWithoutBroker => transport is { RedeliversUnfinished: false } && lifetime.ApplicationStopping.IsCancellationRequested;

    public async Task SendAsync(SendEmail email, IPublishEndpoint publisher, CancellationToken cancellationToken)
    {
        // Taken before the content is loaded and given back when this method ends, whichever way: the content, the
        // message built from it and its signature are held until then. Nothing is claimed while it waits.
        using var content = email.StoredContent is { } stored
            ? await contentBudget.EnterAsync(stored.Size, email.Priority, cancellationToken)
            : null;

        if (StoppingWithoutBroker)
        {
            // The in-memory transport runs, while it stops, every command it had taken off its queue: this one dies with
            // the process whatever is done here. Nothing is claimed, and the ending consume is not a fault (a fault would
            // fail the recipients); the next start publishes the command again, or makes its kept copy due.
            Log.LeftForNextStart(logger, email.EmailId);
            return;
        }

        // A large email's content comes from the content store; the ledger keeps the command without it. When the store
        // is out of reach this throws before anything is claimed, and the consumer's retry or redelivery tries again.
        var whole = await StoredContents.LoadAsync(db, email, cancellationToken);

        // Malformed input throws here, before anything is claimed: the command faults and its recipients fail.
        using var message = whole is null ? null : MimeMessageFactory.Create(whole);
        if (message is not null)
        {
            dkim.Sign(message);
        }

        var claim = await ledger.ClaimAsync(email, DeliveryLedger.RecipientsOf(email), cancellationToken);
        foreach (var record in claim.Expired)
        {
            // Counted once, here, where they are recorded: a retry after a failed publish finds them already recorded.
            metrics.RecordOutcome(record, email.Priority);
        }

        if (claim.ToSend.Count == 0)
        {
            await PublishSettledAsync(email, claim, publisher, cancellationToken);
            return;
        }

        IReadOnlyList<RecipientOutcome> outcomes;
        string? relayName = null;
        RecordingWindow.Permit? permit = null;
        var lease = ClaimLease.Keep(claim, scopes, options.Value, time, logger);
        try
        {
            var heldBack = await FindHeldBackAsync(claim, cancellationToken);
            var rcptTo = claim.ToSend.Select(r => r.Recipient).Where(r => heldBack.All(s => s.Recipient != r)).ToList();
            outcomes = heldBack;
            if (rcptTo.Count > 0 && message is null)
            {
                Log.ContentGone(logger, email.EmailId);
                outcomes = [.. heldBack, .. rcptTo.Select(r => new RecipientOutcome(r, RecipientOutcomeKind.Failed, null,
                    "The email's content is no longer in the content store (Ingress:StoredContentRetention passed before it could be sent).")
                {
                    FailedAs = Storage.FailureKind.Lost,
                })];
            }
            else if (rcptTo.Count > 0 && message is not null)
            {
                IReadOnlyList<RecipientOutcome> sent;
                var attempt = new SmtpAttempt(email.EmailId, email.Priority)
                {
                    WaitForRelay = (relay, token) => relays.WaitForRateLimitAsync(relay, email.Priority, token),
                    BeforeTransaction = async token =>
                    {
                        // Held from here until the outcome is recorded, unless the relay takes no transaction and the next
                        // relay is tried (NothingSent). Run again when a pooled connection found dead before MAIL FROM was
                        // answered is replaced: the claim is confirmed again right before the new connection's MAIL FROM,
                        // under the same permit.
                        permit ??= await window.EnterAsync(email.Priority, token);
                        await HoldIfStoppingAsync(email.EmailId, token);
                        await lease.RenewBeforeTransactionAsync(token);
                    },
                    // Given back when the relay took no transaction, before the next relay's connection is waited for:
                    // kept, it deadlocks against an attempt that holds that connection and waits for a permit.
                    NothingSent = () =>
                    {
                        permit?.Dispose();
                        permit = null;
                    },
                };
                (sent, relayName) = await SendThroughRelaysAsync(attempt, email, message, email.Envelope with { RcptTo = rcptTo }, cancellationToken);
                outcomes = [.. heldBack, .. sent];
            }
        }
        catch (NotSentForShutdownException ex)
        {
            // Stopping, with no broker to give the command again (HoldIfStoppingAsync): nothing was sent. The claim is
            // handed back with the command kept, and the consume ends without a fault, which would fail the recipients.
            permit?.Dispose();
            await lease.DisposeAsync();
            await ReleaseAsync(email, claim, ex);
            return;
        }
        catch (ClaimLostException ex)
        {
            // The lease ran out anyway (the store was unreachable for most of it) and the recipients were taken over
            // before MAIL FROM: nothing was sent. Not acknowledged: on a first attempt this command is the only copy (none
            // is kept in the store), and the scheduler that found the claim lapsed handed the recipients back expecting
            // the broker to bring it again. The consumer's retry starts again from the store: it claims the recipients
            // handed back, and leaves those another worker holds now to that worker, keeping a copy for the scheduler.
            permit?.Dispose();
            await lease.DisposeAsync();
            Log.ClaimLost(logger, ex, email.EmailId);
            throw;
        }
        catch (Exception ex)
        {
            // Shutdown or an unexpected error before the relay answered: hand the claim back for the next attempt.
            permit?.Dispose();
            await lease.DisposeAsync();
            await ReleaseAsync(email, claim, ex);
            throw;
        }

        // The relay has answered: record it even if shutdown begins now (RecordAsync does not take the token), and
        // while the store is unreachable keep trying for as long as the claim holds; the lease goes on renewing it
        // meanwhile. A crash between the relay's answer and this write is the one duplicate window (see DeliveryLedger).
        IReadOnlyList<Storage.DeliveryRecord> recorded;
        try
        {
            recorded = await ledger.RecordAsync(email, claim, relayName, outcomes, () => lease.ClaimedUntil);
        }
        finally
        {
            permit?.Dispose();
            await lease.DisposeAsync();
        }

        // Counted once, here, right after the store committed them: the publishes below may fail, and what publishes
        // them again does not count them.
        foreach (var record in recorded)
        {
            metrics.RecordOutcome(record, email.Priority, email.DueAt());
        }

        // Publishing may fail (broker down) or go unconfirmed (Delivery:PublishTimeout): the consumer's retry, or the
        // redelivered command, then finds the outcomes recorded and publishes them again under the same event ids,
        // without sending anything.
        foreach (var record in recorded)
        {
            await PublishAsync(publisher, record, CancellationToken.None);
        }

        // Only now, with this attempt's claim settled: a publish that failed before it began would have left the claim
        // neither released nor renewed, and the recipients waiting for it to lapse.
        await PublishSettledAsync(email, claim, publisher, cancellationToken);

        Log.Outcome(logger, email.EmailId, recorded.Count > 0 ? recorded.Max(r => r.Attempt) : 0, relayName ?? "none",
            Count(recorded, RecipientOutcomeKind.Delivered), Count(recorded, RecipientOutcomeKind.Deferred),
            Count(recorded, RecipientOutcomeKind.Bounced), Count(recorded, RecipientOutcomeKind.Failed),
            Count(recorded, RecipientOutcomeKind.Suppressed));
    }

    /// <summary>
    /// Once the worker is stopping (SIGTERM), no new SMTP transaction starts: an attempt that got its connection only now
    /// (it waited for one) sends nothing. With RabbitMQ it holds here until MassTransit cancels the consume
    /// (<c>Shutdown:Timeout</c> less 10 s); the claim is then handed back and the unacknowledged message returns to its
    /// queue for another worker. With the in-memory bus nothing would give the message again, and that transport does not
    /// cancel every consume it runs while stopping: the claim is handed back at once, with the command kept, and the
    /// consume ends without a fault (<see cref="NotSentForShutdownException"/>); the next start makes it due.
    /// A transaction already past <c>MAIL FROM</c> is not cancelled, but one still running when <c>Shutdown:Timeout</c> is
    /// up is cut off with the process: its recipients stay claimed and are tried again once the claim lapses, a duplicate
    /// if the relay had already accepted (the window <see cref="DeliveryLedger"/> describes). Without this hold, a
    /// transaction starting just before the process exits would be cut off that way too.
    /// </summary>
    private async Task HoldIfStoppingAsync(Guid emailId, CancellationToken cancellationToken)
    {
        if (!lifetime.ApplicationStopping.IsCancellationRequested)
        {
            return;
        }

        if (StoppingWithoutBroker)
        {
            Log.NotSentForShutdown(logger, emailId);
            throw new NotSentForShutdownException();
        }

        Log.HeldForShutdown(logger, emailId);
        await Task.Delay(Timeout.InfiniteTimeSpan, cancellationToken);
    }

    /// <summary>
    /// Publishes again the outcomes the claim found already recorded (a redelivery, or a duplicate of the command), and
    /// those it failed as expired.
    /// </summary>
    private async Task PublishSettledAsync(SendEmail email, Claim claim, IPublishEndpoint publisher, CancellationToken cancellationToken)
    {
        foreach (var record in claim.AlreadyRecorded)
        {
            await PublishAsync(publisher, record, cancellationToken);
        }

        foreach (var record in claim.Expired)
        {
            await PublishAsync(publisher, record, CancellationToken.None);
        }
    }

    /// <summary>Publishes a recorded outcome, waiting for the broker's confirm at most <c>Delivery:PublishTimeout</c>.</summary>
    private Task PublishAsync(IPublishEndpoint publisher, Storage.DeliveryRecord record, CancellationToken cancellationToken) =>
        PublishDeadline.RunAsync(options.Value.PublishTimeout, cancellationToken, token => RecordedOutcomes.PublishAsync(publisher, record, token));

    /// <summary>
    /// The claimed recipients not to send now, looked up concurrently: those on the suppression list (suppressed), and
    /// those the list could not be asked about while its filter holds them (deferred: <see cref="SuppressionUnknownException"/>).
    /// The list answers "not suppressed" when it cannot tell otherwise, so only shutdown makes this throw.
    /// </summary>
    private async Task<IReadOnlyList<RecipientOutcome>> FindHeldBackAsync(Claim claim, CancellationToken cancellationToken)
    {
        if (suppressions is null)
        {
            return [];
        }

        var outcomes = await Task.WhenAll(claim.ToSend.Select(async r =>
        {
            try
            {
                return await suppressions.FindAsync(r.Recipient, cancellationToken) is { } reason
                    ? new RecipientOutcome(r.Recipient, RecipientOutcomeKind.Suppressed, null, reason)
                    : null;
            }
            catch (SuppressionUnknownException unknown)
            {
                return new RecipientOutcome(r.Recipient, RecipientOutcomeKind.Deferred, null, unknown.Message);
            }
        }));
        return outcomes.OfType<RecipientOutcome>().ToList();
    }

    /// <summary>
    /// Tries the relays in routing order. It moves on to the next relay only when nothing reached the current one's mail
    /// transaction (it failed before one began, refused <c>MAIL FROM</c> for now, or every recipient needs SMTPUTF8, which
    /// it lacks), so nothing can be
    /// duplicated; once a relay has answered inside a transaction, or the session broke mid-message, that is the
    /// attempt's outcome. Recipients such a relay left out for lack of SMTPUTF8 are deferred, due at once: the next attempt
    /// takes them alone, and so on to a relay that offers it. They fail as unsupported only when every relay that may carry
    /// the email was reached and lacks it. A relay skipped for its breaker's cool-down, or one that failed before a mail
    /// transaction (refused the connection, or answered the greeting, EHLO, STARTTLS or AUTH with a refusal), may offer it
    /// for all we know: while there is one, they are deferred on the retry schedule instead.
    /// </summary>
    private async Task<(IReadOnlyList<RecipientOutcome> Outcomes, string? Relay)> SendThroughRelaysAsync(
        SmtpAttempt attempt, SendEmail email, MimeKit.MimeMessage message, Envelope envelope, CancellationToken cancellationToken)
    {
        var routeOf = relays.RouteFor(email);
        IReadOnlyList<RecipientOutcome>? outcomes = null;
        string? used = null;
        var skipped = false;
        var unreached = false;
        foreach (var relay in relays.Candidates(routeOf))
        {
            if (!relays.TryEnter(relay, out var probe))
            {
                skipped = true;
                continue;
            }

            try
            {
                outcomes = await smtp.SendAsync(relay, message, envelope, attempt, cancellationToken);
            }
            catch (ClaimLostException)
            {
                // Not the relay's doing: its breaker is left as it was.
                relays.Abandoned(relay, probe);
                throw;
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                // Shutdown, or the broker connection dropped under the consume: not the relay's doing either.
                relays.Abandoned(relay, probe);
                throw;
            }
            catch
            {
                // The relay client turns every refusal and transport fault of the relay into outcomes: what is thrown
                // here is not the relay's doing (an address that does not parse, a store error renewing the claim), and
                // must not open its breaker for everyone else's mail.
                relays.Abandoned(relay, probe);
                throw;
            }

            used = relay.Name;
            var tried = outcomes.Where(o => !o.RelayLacksSmtpUtf8).ToList();
            // Judged by the session, not by the replies: one broken mid-message after the relay refused a recipient
            // counts against the relay all the same, and one that refused the sender for now answered: it works.
            if (tried.Count == 0 || !tried.All(o => o.RelayUnavailable || o.SessionBroke))
            {
                relays.Succeeded(relay);
            }
            else if (relays.Failed(relay))
            {
                Log.BreakerOpened(logger, relay.Name);
            }

            if (!tried.All(o => o.RelayUnavailable || o.SenderRefusedForNow))
            {
                break;
            }

            // Nothing reached a mail transaction: whether this relay offers SMTPUTF8 was not learned, or (it refused the
            // sender for now) it may yet carry a recipient that needs it, once it takes the sender again.
            unreached |= tried.Count > 0;
            attempt.NothingSent?.Invoke();
        }

        if (outcomes is null)
        {
            return (envelope.RcptTo.Select(r => new RecipientOutcome(r, RecipientOutcomeKind.Deferred, null,
                "No relay is available: every relay this email may use is failing and skipped for a cool-down.")).ToList(), null);
        }

        var carried = outcomes.Any(o => !o.RelayLacksSmtpUtf8 && !o.RelayUnavailable && !o.SenderRefusedForNow);
        return ([.. outcomes.Select(o => o.RelayLacksSmtpUtf8 && (carried || skipped || unreached)
            ? o with
            {
                Kind = RecipientOutcomeKind.Deferred,
                RetryAtOnce = carried,
                Reason = carried ? $"{o.Reason} The next attempt takes this recipient alone, to a relay that offers SMTPUTF8."
                    : skipped ? $"{o.Reason} A relay skipped for its cool-down may offer it: tried again later."
                    : $"{o.Reason} A relay that could not be reached may offer it: tried again later.",
            }
            : o)], used);
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
