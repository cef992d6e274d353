using EmailPlatform.ServiceDefaults.Paging;
using EmailPlatform.ServiceDefaults.Problems;
using EmailPlatform.Status.Storage;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;

namespace EmailPlatform.Status.Reads;

/// <summary>The query string of <c>GET /v1/emails</c>.</summary>
public sealed record ListEmailsQuery(
    [FromQuery(Name = "status")] string? Status,
    [FromQuery(Name = "recipient")] string? Recipient,
    [FromQuery(Name = "from")] string? From,
    [FromQuery(Name = "tag")] string[]? Tag,
    [FromQuery(Name = "metadata")] string[]? Metadata,
    [FromQuery(Name = "created_after")] string? CreatedAfter,
    [FromQuery(Name = "created_before")] string? CreatedBefore,
    [FromQuery(Name = "limit")] string? Limit,
    [FromQuery(Name = "cursor")] string? Cursor,
    [FromQuery(Name = "after")] string? After,
    [FromQuery(Name = "before")] string? Before);

/// <summary>
/// <c>GET /v1/emails</c>: newest first (created_at desc, id desc), filtered by status, recipient, sender, tags
/// (<c>name:value</c>), metadata (<c>key=value</c>) and a created-at range, in keyset pages of at most 100.
/// </summary>
public static class ListEmails
{
    public const int DefaultLimit = PageLimit.Default;
    public const int MaxLimit = PageLimit.Max;

    internal static async Task<Results<Ok<EmailListResponse>, ValidationProblem>> HandleAsync(
        [AsParameters] ListEmailsQuery query, StatusDbContext db, CancellationToken cancellationToken)
    {
        var errors = new Dictionary<string, string[]>();
        // A page of up to 100 emails shows no bodies: they stay in the store.
        var emails = db.EmailsWithoutBodies.AsNoTracking().Where(e => e.AcceptedAt != null);

        var limit = PageLimit.Parse(query.Limit, errors);

        if (query.Status is not null)
        {
            if (EmailFilter.ParseState(query.Status) is { } state)
            {
                emails = emails.Where(e => e.State == state);
            }
            else
            {
                errors["status"] = [$"'{query.Status}' is not a status; status is one of: {EmailFilter.StateNames}."];
            }
        }

        emails = new EmailFilter(query.Status, query.Recipient, query.From, query.Tag, query.Metadata, query.CreatedAfter, query.CreatedBefore)
            .Apply(emails, db, errors);

        var positions = new (string Name, string? Value)[] { ("cursor", query.Cursor), ("after", query.After), ("before", query.Before) }
            .Where(p => p.Value is not null).Select(p => p.Name).ToList();
        if (positions.Count > 1)
        {
            // Named as sent: a Resend client, which never sends cursor, reads "after and before".
            errors[positions[^1]] = [$"{string.Join(" and ", positions)} cannot be used together: send one of them."];
        }

        var (position, backwards) = await PositionAsync(db, query, errors, cancellationToken);
        if (errors.Count > 0)
        {
            return ApiProblems.Validation(errors, ApiProblems.ValidationError);
        }

        List<EmailRecord> page;
        if (position is { } p && backwards)
        {
            // Resend's before=<id>: the page just newer than that email, still shown newest first.
            page = await emails
                .Where(e => e.AcceptedAt >= p.CreatedAt && (e.AcceptedAt > p.CreatedAt || e.Id.CompareTo(p.Id) > 0))
                .OrderBy(e => e.AcceptedAt).ThenBy(e => e.Id).Take(limit + 1).ToListAsync(cancellationToken);
            var hasNewer = page.Count > limit;
            page = [.. page.Take(limit).Reverse()];
            return TypedResults.Ok(Response(page, hasNewer, limit, page.Count == 0 ? null : Cursor(page[^1])));
        }

        if (position is { } q)
        {
            // The bound first, as a condition of its own: the index scan starts at the cursor. Under the OR alone it would
            // start at the newest email and filter its way down, and page k of a long walk would read every email before it.
            emails = emails.Where(e => e.AcceptedAt <= q.CreatedAt && (e.AcceptedAt < q.CreatedAt || e.Id.CompareTo(q.Id) < 0));
        }

        page = await emails.OrderByDescending(e => e.AcceptedAt).ThenByDescending(e => e.Id).Take(limit + 1).ToListAsync(cancellationToken);
        var hasMore = page.Count > limit;
        page = [.. page.Take(limit)];
        return TypedResults.Ok(Response(page, hasMore, limit, hasMore ? Cursor(page[^1]) : null));
    }

    private static EmailListResponse Response(List<EmailRecord> page, bool hasMore, int limit, string? next) =>
        new("list", hasMore, page.Select(EmailSummaryResponse.Create).ToList(), next);

    private static string Cursor(EmailRecord email) => new EmailListCursor(email.AcceptedAt!.Value, email.Id).Encode();

    private static async Task<(EmailListCursor? Position, bool Backwards)> PositionAsync(
        StatusDbContext db, ListEmailsQuery query, Dictionary<string, string[]> errors, CancellationToken cancellationToken)
    {
        if (query.Cursor is not null)
        {
            if (EmailListCursor.TryDecode(query.Cursor, out var cursor))
            {
                return (cursor, false);
            }

            errors["cursor"] = ["cursor is not a cursor returned by this API."];
            return (null, false);
        }

        var (name, value) = query.After is not null ? ("after", query.After) : ("before", query.Before);
        if (value is null)
        {
            return (null, false);
        }

        var anchor = Guid.TryParse(value, out var id)
            ? await db.Emails.AsNoTracking().Where(e => e.Id == id && e.AcceptedAt != null)
                .Select(e => new { e.Id, e.AcceptedAt }).SingleOrDefaultAsync(cancellationToken)
            : null;
        if (anchor is null)
        {
            errors[name] = [$"{name} must be the id of an email."];
            return (null, false);
        }

        return (new EmailListCursor(anchor.AcceptedAt!.Value, anchor.Id), name == "before");
    }
}
