using System.Text.Json;
using EmailPlatform.Contracts;
using EmailPlatform.ServiceDefaults.Addresses;
using EmailPlatform.ServiceDefaults.Authentication;
using EmailPlatform.ServiceDefaults.Json;
using EmailPlatform.ServiceDefaults.Problems;
using EmailPlatform.ServiceDefaults.Storage;
using EmailPlatform.Status.Reads;
using EmailPlatform.Status.Retention;
using EmailPlatform.Status.Storage;
using MassTransit;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace EmailPlatform.Status.Bulk;

/// <summary>
/// <c>/v1/bulk</c> (admin): retry the <c>deferred</c> or <c>failed</c> recipients, or cancel the <c>scheduled</c> emails,
/// that a filter selects. Each email touched gets one command on the bus — <see cref="RetryRecipients"/> to the
/// delivery workers, <see cref="CancelEmail"/> to the ingress — which are safe to repeat; the outcomes come back as
/// the usual events. At most <see cref="BulkOptions.MaxEmails"/> emails per request, newest first; a dry run reports
/// the same selection and sends nothing. A real run commits its audit record (with a recipient filter only as its
/// SHA-256, so an erasure leaves no address behind) and its commands (<see cref="BulkCommandRecord"/>) in one
/// transaction, and <see cref="BulkCommandPublisher"/> puts the commands on the bus: the answer never waits for the
/// broker, and every command of a committed operation is published once the broker is there. (A failed recipient is
/// retried only while a worker still holds its content, <c>Delivery:FailedContentRetention</c>.)
/// </summary>
public static class BulkEndpoints
{
    public const string RetryAction = "bulk.retry";
    public const string CancelAction = "bulk.cancel";

    /// <summary>How many touched emails the answer lists.</summary>
    public const int PageSize = 100;

    private static readonly EmailState[] Retryable = [EmailState.Deferred, EmailState.Failed];

    public static RouteGroupBuilder MapBulk(this IEndpointRouteBuilder routes)
    {
        var group = routes.MapGroup("/v1/bulk").WithTags("Bulk").RequireAuthorization(ApiKeyScopes.Admin);
        group.MapPost("/retry", RetryAsync).WithName("BulkRetry")
            .WithSummary("Retries now the deferred or failed recipients of the emails a filter selects (filter.status: deferred, failed or absent for both).");
        group.MapPost("/cancel", CancelAsync).WithName("BulkCancel")
            .WithSummary("Cancels the scheduled emails a filter selects (filter.status: scheduled or absent).");
        return group;
    }

    internal static async Task<Results<Ok<BulkResponse>, ValidationProblem>> RetryAsync(
        BulkRequest request, HttpContext http, StatusDbContext db, BulkCommandSignal signal, IOptions<BulkOptions> options, TimeProvider clock,
        CancellationToken cancellationToken)
    {
        var filter = request.Filter ?? new EmailFilter();
        var errors = new Dictionary<string, string[]>();
        var states = Retryable;
        if (filter.Status is not null)
        {
            states = EmailFilter.ParseState(filter.Status) is { } state && Retryable.Contains(state)
                ? [state]
                : [];
            if (states.Length == 0)
            {
                errors["filter.status"] = [$"A retry selects deferred or failed recipients; filter.status must be 'deferred' (or 'delivery_delayed') or 'failed' (or absent for both), not '{filter.Status}'."];
            }
        }

        var emails = Select(db, filter, request.Cursor, errors);
        if (errors.Count > 0)
        {
            return ApiProblems.Validation(errors);
        }

        // The recipients a retry asks for: in those states and, with a recipient filter, that address alone, never the
        // email's other recipients. An email is selected only for a recipient of its own that qualifies.
        var retried = db.Recipients.AsNoTracking().Where(r => states.Contains(r.State));
        if (!string.IsNullOrWhiteSpace(filter.Recipient))
        {
            var address = AddressKeys.Of(filter.Recipient);
            retried = retried.Where(r => r.Address == address);
        }

        emails = emails.Where(e => retried.Any(r => r.EmailId == e.Id));
        List<BulkItem> items;
        bool truncated;
        string? next;
        // One snapshot for the page and its recipients: read apart, an outcome recorded in between left an email counted
        // with no recipient to retry, and a command for nothing. Ended before the audit record and commands are written.
        await using (await ReadSnapshot.BeginAsync(db, cancellationToken))
        {
            (var page, truncated, next) = await PageAsync(emails, options.Value.MaxEmails, cancellationToken);
            var ids = page.Select(p => p.Id).ToList();
            var recipients = (await retried
                    .Where(r => ids.Contains(r.EmailId))
                    .Select(r => new { r.EmailId, r.Address }).ToListAsync(cancellationToken))
                .ToLookup(r => r.EmailId, r => r.Address);
            // Within the snapshot every email of the page has one; an email without any would only ask for nothing.
            items = [.. ids.Where(recipients.Contains).Select(id => new BulkItem(id, [.. recipients[id].Order(StringComparer.Ordinal)]))];
        }

        var now = clock.GetUtcNow();
        return TypedResults.Ok(await RunAsync(
            "bulk_retry", RetryAction, request, filter, items, truncated, next, now, http, db, signal, cancellationToken,
            auditId => BulkCommands.Rows(auditId, items.Select(i => new RetryRecipients(NewId.NextGuid(), i.EmailId, i.Recipients, now)), now.UtcDateTime)));
    }

    internal static async Task<Results<Ok<BulkResponse>, ValidationProblem>> CancelAsync(
        BulkRequest request, HttpContext http, StatusDbContext db, BulkCommandSignal signal, IOptions<BulkOptions> options, TimeProvider clock,
        CancellationToken cancellationToken)
    {
        var filter = request.Filter ?? new EmailFilter();
        var errors = new Dictionary<string, string[]>();
        if (filter.Status is not null && EmailFilter.ParseState(filter.Status) != EmailState.Scheduled)
        {
            errors["filter.status"] = [$"A cancel selects scheduled emails; filter.status must be 'scheduled' (or absent), not '{filter.Status}'."];
        }

        var emails = Select(db, filter, request.Cursor, errors);
        if (errors.Count > 0)
        {
            return ApiProblems.Validation(errors);
        }

        emails = emails.Where(e => e.State == EmailState.Scheduled);
        var (page, truncated, next) = await PageAsync(emails, options.Value.MaxEmails, cancellationToken);
        var items = page.Select(p => new BulkItem(p.Id, [])).ToList();

        var now = clock.GetUtcNow();
        return TypedResults.Ok(await RunAsync(
            "bulk_cancel", CancelAction, request, filter, items, truncated, next, now, http, db, signal, cancellationToken,
            auditId => BulkCommands.Rows(auditId, items.Select(i => new CancelEmail(NewId.NextGuid(), i.EmailId, now)), now.UtcDateTime)));
    }

    /// <summary>The emails the filter selects below the cursor (newest first, as in the list).</summary>
    private static IQueryable<EmailRecord> Select(StatusDbContext db, EmailFilter filter, string? cursor, Dictionary<string, string[]> errors)
    {
        var emails = filter.Apply(db.Emails.AsNoTracking().Where(e => e.AcceptedAt != null), db, errors, "filter.");
        if (cursor is null)
        {
            return emails;
        }

        if (!EmailListCursor.TryDecode(cursor, out var position))
        {
            errors["cursor"] = ["cursor must be a next_cursor returned by this endpoint."];
            return emails;
        }

        // The bound as a condition of its own, so the index scan starts at the cursor (as the list's does).
        return emails.Where(e => e.AcceptedAt <= position.CreatedAt && (e.AcceptedAt < position.CreatedAt || e.Id.CompareTo(position.Id) < 0));
    }

    private static async Task<(List<EmailListCursor> Page, bool Truncated, string? Next)> PageAsync(
        IQueryable<EmailRecord> emails, int max, CancellationToken cancellationToken)
    {
        var found = await emails.OrderByDescending(e => e.AcceptedAt).ThenByDescending(e => e.Id)
            .Select(e => new { e.AcceptedAt, e.Id }).Take(max + 1).ToListAsync(cancellationToken);
        var page = found.Take(max).Select(e => new EmailListCursor(e.AcceptedAt!.Value, e.Id)).ToList();
        var truncated = found.Count > max;
        return (page, truncated, truncated ? page[^1].Encode() : null);
    }

    private static async Task<BulkResponse> RunAsync(
        string kind, string action, BulkRequest request, EmailFilter filter, List<BulkItem> items, bool truncated, string? next,
        DateTimeOffset now, HttpContext http, StatusDbContext db, BulkCommandSignal signal, CancellationToken cancellationToken,
        Func<Guid, List<BulkCommandRecord>> commands)
    {
        var recipients = items.Sum(i => i.Recipients.Count);
        Guid? auditId = null;
        if (request.DryRun != true && items.Count > 0)
        {
            var audit = new AuditRecord
            {
                Id = Guid.CreateVersion7(),
                Action = action,
                Subject = JsonSerializer.Serialize(filter with { Recipient = Hash(filter.Recipient) }, WireJson.Options),
                Actor = ApiKeyIdentity.ActorOf(http),
                OccurredAt = now.UtcDateTime,
                Details = JsonSerializer.Serialize(new { emails = items.Count, recipients, truncated, cursor = request.Cursor }, WireJson.Options),
            };
            db.AuditRecords.Add(audit);
            db.BulkCommands.AddRange(commands(audit.Id));
            await db.SaveChangesAsync(cancellationToken);
            auditId = audit.Id;
            signal.Notify();
        }

        return new BulkResponse(kind, auditId, request.DryRun == true, items.Count, recipients, truncated, next, [.. items.Take(PageSize)]);
    }

    private static string? Hash(string? address) => address is null ? null : "sha256:" + RecipientErasure.HashOf(AddressKeys.Of(address));
}
