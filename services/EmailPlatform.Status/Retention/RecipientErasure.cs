using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using EmailPlatform.ServiceDefaults.Addresses;
using EmailPlatform.ServiceDefaults.Authentication;
using EmailPlatform.ServiceDefaults.Problems;
using EmailPlatform.Status.Recording;
using EmailPlatform.Status.Storage;
using EmailPlatform.Status.Suppressions;
using EmailPlatform.Status.Webhooks;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;

namespace EmailPlatform.Status.Retention;

public sealed record ErasureResponse(string Object, Guid AuditId, int Emails, int Events, int Suppressions, int WebhookDeliveries);

/// <summary>
/// <c>DELETE /v1/recipients/{address}</c> (admin): a data-protection erasure. In every email that names the address (a
/// recipient, or only a header: see <see cref="HeaderAddressRecord"/>), the address is replaced by a random placeholder
/// (in to/cc/bcc/reply_to, a group's member alone, the recipient row and its events, whose SMTP text may quote it, and
/// wherever a reason or a relay's text in those emails quotes it: <see cref="ErasedText"/>), the bodies are removed, the
/// webhook deliveries (pending and past) of the address's own events are deleted while those of the emails' other events
/// are written again without it, and a suppression of the address is deleted. An audit record keeps the SHA-256 of the address, who asked and the counts.
/// The placeholder is derived from that hash (<see cref="PlaceholderFor"/>): an outcome that arrives later for an email in
/// flight at the erasure is recorded on it (see <c>StatusRecorder</c>), without the relay's text and with the address
/// replaced in its reason. The hash and the erasure's time are kept (<see cref="ErasedAddressRecord"/>) so that an email
/// accepted before the erasure and not recorded here yet (its accept still in the ingress's outbox or a backlog) is
/// recorded with the placeholder too, when its accept or outcomes come.
/// </summary>
public static class RecipientErasure
{
    public const string Action = "recipient.erased";

    public static RouteHandlerBuilder MapRecipientErasure(this IEndpointRouteBuilder routes) =>
        routes.MapDelete("/v1/recipients/{address}", EraseAsync)
            .WithTags("Privacy").WithName("EraseRecipient").RequireAuthorization(ApiKeyScopes.Admin)
            .WithSummary("Erases everything about one recipient address, and records the erasure in the audit log.");

    /// <summary>Emails erased per transaction: each batch holds its rows' locks and its emails (bodies included) only briefly.</summary>
    internal const int BatchSize = 200;

    internal static Task<Results<Ok<ErasureResponse>, ValidationProblem>> EraseAsync(
        string address, HttpContext http, StatusDbContext db, TimeProvider clock, ILogger<ErasureResponse> logger, CancellationToken cancellationToken) =>
        EraseInBatchesAsync(AddressRoute.Decode(address), http, db, clock, logger, BatchSize, cancellationToken);

    /// <summary>
    /// Erases the emails that name the address in batches of <paramref name="batchSize"/>, oldest id first, each batch in a
    /// transaction of its own, so that an address copied on hundreds of thousands of emails is erased without holding them
    /// all in memory or their locks for minutes. Then, in a last transaction, the suppression goes and the audit record is
    /// written with the totals. An erasure that fails part way (the store lost) answers an error, keeps what its finished
    /// batches erased, and is finished by the same request made again: an erased email no longer names the address.
    /// </summary>
    internal static async Task<Results<Ok<ErasureResponse>, ValidationProblem>> EraseInBatchesAsync(
        string address, HttpContext http, StatusDbContext db, TimeProvider clock, ILogger<ErasureResponse> logger, int batchSize,
        CancellationToken cancellationToken)
    {
        var key = AddressKeys.Of(address);
        if (key.Length is 0 or > 320 || !key.Contains('@', StringComparison.Ordinal))
        {
            return ApiProblems.Validation(new Dictionary<string, string[]> { ["address"] = ["address must be an email address."] });
        }

        var forms = AddressKeys.StoredForms(key);
        var placeholder = PlaceholderFor(key);
        var now = clock.GetUtcNow().UtcDateTime;

        // First, so that what the recorder meets from now on of an email accepted before now (in flight, or not recorded
        // yet) is recorded erased, and none of it comes back behind the batches below.
        await RememberAsync(db, HashOf(key), now, cancellationToken);
        var (emails, events, deliveries) = (0, 0, 0);
        var after = Guid.Empty;
        while (true)
        {
            var batch = await EraseBatchAsync(db, key, forms, placeholder, now, after, batchSize, cancellationToken);
            (emails, events, deliveries) = (emails + batch.Emails, events + batch.Events, deliveries + batch.Deliveries);
            if (batch.Last is not { } last)
            {
                break;
            }

            after = last;
            db.ChangeTracker.Clear();
        }

        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        var suppressions = await db.Suppressions.Where(s => forms.Contains(s.Address)).ExecuteDeleteAsync(cancellationToken);
        var audit = new AuditRecord
        {
            Id = Guid.CreateVersion7(),
            Action = Action,
            Subject = HashOf(key),
            Actor = ApiKeyIdentity.ActorOf(http),
            OccurredAt = now,
            Details = JsonSerializer.Serialize(new { emails, events, suppressions, webhook_deliveries = deliveries }),
        };
        db.AuditRecords.Add(audit);
        await db.SaveChangesAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);

        Log.Erased(logger, emails, audit.Id);
        return TypedResults.Ok(new ErasureResponse("erasure", audit.Id, emails, events, suppressions, deliveries));
    }

    /// <summary>
    /// Erases the address from the next <paramref name="batchSize"/> emails (by id, after <paramref name="after"/>) that
    /// name it, in one transaction.
    /// </summary>
    /// <returns>What it erased, and the last email id it looked at, or null when there were no more.</returns>
    private static async Task<(int Emails, int Events, int Deliveries, Guid? Last)> EraseBatchAsync(
        StatusDbContext db, string key, IReadOnlyList<string> forms, string placeholder, DateTime now, Guid after, int batchSize,
        CancellationToken cancellationToken)
    {
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);

        // The emails with the address among their recipients or named in their headers; and those an earlier erasure of
        // it left with its placeholder, whose subject or metadata may still quote it (an erasure made by a version that
        // left those alone, made again). One look per stored form and table, each the next few entries of an
        // (address, email_id) index after the last batch: one look at them all would read every remaining row of the
        // address to sort them, each batch.
        var candidates = new List<Guid>();
        foreach (var form in forms.Append(placeholder))
        {
            candidates.AddRange(await db.Recipients.Where(r => r.Address == form && r.EmailId.CompareTo(after) > 0)
                .OrderBy(r => r.EmailId).Select(r => r.EmailId).Take(batchSize).ToListAsync(cancellationToken));
        }

        foreach (var form in forms)
        {
            candidates.AddRange(await db.HeaderAddresses.Where(h => h.Address == form && h.EmailId.CompareTo(after) > 0)
                .OrderBy(h => h.EmailId).Select(h => h.EmailId).Take(batchSize).ToListAsync(cancellationToken));
        }

        // Guids compare as both stores order them (PostgreSQL's uuid, SQLite's upper-case text).
        var found = candidates.Distinct().Order().Take(batchSize).ToList();
        if (found.Count == 0)
        {
            return (0, 0, 0, null);
        }

        if (db.Database.IsNpgsql())
        {
            // As the recorder does, in the same order: a batch recording events of these emails meanwhile is waited for,
            // and the emails are read after it, rather than overwritten and refused on their version (a 500).
            var ordered = found.ToArray();
            await db.Database.ExecuteSqlAsync($"SELECT 1 FROM emails WHERE id = ANY({ordered}) ORDER BY id FOR UPDATE", cancellationToken);
        }

        var text = new ErasedText(forms, placeholder);
        var emails = new List<EmailRecord>();
        var relabeled = new List<EmailRecord>();
        foreach (var email in await db.Emails.Include(e => e.Recipients).Where(e => found.Contains(e.Id)).ToListAsync(cancellationToken))
        {
            var named = Erase(db, email, key, forms, placeholder, text, now);
            var subject = email.Subject;
            var relabel = text.EraseFrom(email);
            if (!named && !relabel && subject == email.Subject)
            {
                continue;
            }

            if (!named)
            {
                email.UpdatedAt = now;
                email.Version++;
            }

            emails.Add(email);
            if (relabel)
            {
                relabeled.Add(email);
            }
        }

        var emailIds = emails.ConvertAll(e => e.Id);
        await db.HeaderAddresses.Where(h => found.Contains(h.EmailId) && forms.Contains(h.Address)).ExecuteDeleteAsync(cancellationToken);
        await RelabelMetadataAsync(db, relabeled, cancellationToken);
        await db.SaveChangesAsync(cancellationToken);

        // The webhook deliveries of the address's own events go (their recipient is the address), before those events
        // are renamed; the other recipients' stay, with the address replaced in their bodies.
        var deliveries = await db.WebhookDeliveries
            .Where(d => emailIds.Contains(d.EmailId) && db.Events.Any(e => e.Id == d.EventId && forms.Contains(e.Recipient!)))
            .ExecuteDeleteAsync(cancellationToken);
        var events = await db.Events.Where(e => emailIds.Contains(e.EmailId) && forms.Contains(e.Recipient!))
            .ExecuteUpdateAsync(s => s.SetProperty(e => e.Recipient, placeholder).SetProperty(e => e.SmtpText, (string?)null), cancellationToken);
        await EraseFromTextsAsync(db, emailIds, forms, text, cancellationToken);
        deliveries += await RewriteWebhookPayloadsAsync(db, emails, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return (emails.Count, events, deliveries, found[^1]);
    }

    /// <summary>
    /// The metadata search rows of emails whose metadata values quoted the address: the old ones go, the ones of the
    /// metadata as it is now are added (saved with the rest of the batch), so that a metadata filter no longer finds the
    /// email by the address.
    /// </summary>
    private static async Task RelabelMetadataAsync(StatusDbContext db, List<EmailRecord> emails, CancellationToken cancellationToken)
    {
        if (emails.Count == 0)
        {
            return;
        }

        var ids = emails.ConvertAll(e => e.Id);
        await db.EmailLabels.Where(l => ids.Contains(l.EmailId) && l.Kind == EmailLabelRecord.MetadataKind).ExecuteDeleteAsync(cancellationToken);
        db.EmailLabels.AddRange(emails.SelectMany(e => EmailLabelRecord.MetadataOf(e.Id, e.Metadata)));
    }

    /// <summary>
    /// Replaces the address in the reasons and relay texts of the erased emails' events, whoever's they are: a reason
    /// can quote it (a suppression's, built from the bounce that caused it), and so can another recipient's reply.
    /// The store picks the events whose lower-cased text contains a form of the address, so that the events of emails
    /// with thousands of recipients are not all read; on SQLite, whose <c>lower</c> folds only ASCII letters, a text
    /// quoting the address with a non-ASCII letter in upper case is not found.
    /// </summary>
    private static async Task EraseFromTextsAsync(
        StatusDbContext db, List<Guid> emailIds, IReadOnlyList<string> forms, ErasedText text, CancellationToken cancellationToken)
    {
        var (first, last) = (forms[0], forms[^1]);
        var named = await db.Events
            .Where(e => emailIds.Contains(e.EmailId)
                && ((e.Reason != null && (e.Reason.ToLower().Contains(first) || e.Reason.ToLower().Contains(last)))
                    || (e.SmtpText != null && (e.SmtpText.ToLower().Contains(first) || e.SmtpText.ToLower().Contains(last)))))
            .ToListAsync(cancellationToken);
        foreach (var @event in named)
        {
            (@event.Reason, @event.SmtpText) = (text.Replace(@event.Reason), text.Replace(@event.SmtpText));
        }

        await db.SaveChangesAsync(cancellationToken);
    }

    /// <summary>
    /// Writes the bodies of the erased emails' remaining webhook deliveries again from the emails as they are now, as
    /// <see cref="WebhookOutbox.CompleteAsync"/> does when details arrive: their <c>to</c> named the address. Past
    /// deliveries too, since a replay of one sends its stored body. One whose event is gone (purged) cannot be written
    /// again and is deleted.
    /// </summary>
    /// <returns>The deliveries deleted.</returns>
    private static async Task<int> RewriteWebhookPayloadsAsync(StatusDbContext db, List<EmailRecord> emails, CancellationToken cancellationToken)
    {
        var byId = emails.ToDictionary(e => e.Id);
        var emailIds = byId.Keys.ToList();
        var deliveries = await db.WebhookDeliveries.Where(d => emailIds.Contains(d.EmailId)).ToListAsync(cancellationToken);
        var eventIds = deliveries.Select(d => d.EventId).Distinct().ToList();
        var events = await db.Events.AsNoTracking().Where(e => eventIds.Contains(e.Id)).ToDictionaryAsync(e => e.Id, cancellationToken);
        var deleted = 0;
        foreach (var delivery in deliveries)
        {
            if (events.TryGetValue(delivery.EventId, out var @event))
            {
                var email = byId[delivery.EmailId];
                delivery.Payload = WebhookPayload.Serialize(@event, email.AcceptedAt is null ? null : email);
                delivery.WithoutDetails = email.AcceptedAt is null;
            }
            else
            {
                db.WebhookDeliveries.Remove(delivery);
                deleted++;
            }
        }

        await db.SaveChangesAsync(cancellationToken);
        return deleted;
    }

    /// <summary>
    /// What an erased address becomes: derived from its SHA-256 (which the audit record keeps anyway), so that an event
    /// of an email still in flight at the erasure (a deferred recipient delivered later) finds the placeholder and is
    /// recorded on it, instead of bringing the address back.
    /// </summary>
    public static string PlaceholderFor(string address) => $"erased-{HashOf(AddressKeys.Of(address))[..32]}@erased.invalid";

    /// <summary>What the audit record and <see cref="ErasedAddressRecord"/> keep of an erased address: the lower-case hex SHA-256 of its key.</summary>
    public static string HashOf(string key) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)));

    /// <summary>
    /// Records that the address was erased at <paramref name="now"/> (<see cref="ErasedAddressRecord"/>), committed at
    /// once (two erasures of one address at once both succeed), then waits for the recorder's batches that began before
    /// that commit, and so may not have seen it (<see cref="RecorderBatches"/>): their rows are committed when the
    /// erasure looks for the emails that name the address. On SQLite the one writer at a time does the same.
    /// </summary>
    private static async Task RememberAsync(StatusDbContext db, string hash, DateTime now, CancellationToken cancellationToken)
    {
        await db.Database.ExecuteSqlAsync(
            $"INSERT INTO erased_addresses (hash, erased_at) VALUES ({hash}, {now}) ON CONFLICT (hash) DO UPDATE SET erased_at = excluded.erased_at",
            cancellationToken);
        await RecorderBatches.WaitForBatchesAsync(db, cancellationToken);
    }

    /// <summary>
    /// Replaces the address in one email's headers and recipients (in every recipient's reason and relay text too),
    /// and removes its bodies.
    /// </summary>
    /// <returns>Whether the email named the address (a header address row may point to one whose headers, as MimeKit
    /// reads them, do not).</returns>
    private static bool Erase(
        StatusDbContext db, EmailRecord email, string key, IReadOnlyList<string> forms, string placeholder, ErasedText text, DateTime now)
    {
        string? PlaceholderOf(string address) => address == key ? placeholder : null;
        var (to, cc, bcc, replyTo) = (ErasedHeaders.Replace(email.To, PlaceholderOf), ErasedHeaders.Replace(email.Cc, PlaceholderOf),
            ErasedHeaders.Replace(email.Bcc, PlaceholderOf), ErasedHeaders.Replace(email.ReplyTo, PlaceholderOf));
        var recipients = email.Recipients.Where(r => forms.Contains(r.Address)).ToList();
        if (recipients.Count == 0 && to.SequenceEqual(email.To) && cc.SequenceEqual(email.Cc) && bcc.SequenceEqual(email.Bcc)
            && replyTo.SequenceEqual(email.ReplyTo))
        {
            return false;
        }

        (email.To, email.Cc, email.Bcc, email.ReplyTo) = (to, cc, bcc, replyTo);
        email.Html = null;
        email.Text = null;
        foreach (var old in recipients)
        {
            email.Recipients.Remove(old);
            db.Recipients.Remove(old);
            MergeIntoPlaceholder(email, old, placeholder, now);
        }

        foreach (var recipient in email.Recipients)
        {
            var (reason, smtpText) = (text.Replace(recipient.Reason), text.Replace(recipient.SmtpText));
            if (reason != recipient.Reason || smtpText != recipient.SmtpText)
            {
                (recipient.Reason, recipient.SmtpText) = (reason, smtpText);
                recipient.UpdatedAt = now;
                recipient.Version++;
            }
        }

        email.State = StatusRecorder.DerivedState(email);
        email.UpdatedAt = now;
        email.Version++;
        return true;
    }

    /// <summary>
    /// Moves an erased recipient's state onto its placeholder. The placeholder may be there already (an outcome recorded
    /// on it after an earlier erasure, or a row an earlier erasure left next to the address): the two become one, which
    /// shows the further state, as if the events of both had been recorded on one recipient.
    /// </summary>
    private static void MergeIntoPlaceholder(EmailRecord email, RecipientRecord old, string placeholder, DateTime now)
    {
        var merged = email.Recipients.Find(r => r.Address == placeholder);
        if (merged is null)
        {
            merged = new RecipientRecord { EmailId = email.Id, Address = placeholder };
            email.Recipients.Add(merged);
            TakeState();
        }
        else if (StatusRecorder.Supersedes(merged, old.State, old.Attempt))
        {
            TakeState();
            merged.Version++;
        }

        merged.Kind ??= old.Kind;
        merged.UpdatedAt = now;

        // The relay's text may quote the address: it is not kept. The reason may too: Erase replaces it there.
        void TakeState() => (merged.State, merged.Attempt, merged.SmtpCode, merged.EnhancedCode, merged.SmtpText, merged.Reason, merged.NextAttemptAt) =
            (old.State, old.Attempt, old.SmtpCode, old.EnhancedCode, null, old.Reason, old.NextAttemptAt);
    }

    /// <summary>Whether a recipient's address is an erased address's placeholder.</summary>
    public static bool IsPlaceholder(string address) =>
        address.StartsWith("erased-", StringComparison.Ordinal) && address.EndsWith("@erased.invalid", StringComparison.Ordinal);
}
