using System.Globalization;
using EmailPlatform.ServiceDefaults.Addresses;
using EmailPlatform.ServiceDefaults.Authentication;
using EmailPlatform.ServiceDefaults.Paging;
using EmailPlatform.ServiceDefaults.Problems;
using EmailPlatform.ServiceDefaults.Storage;
using EmailPlatform.Status.Storage;
using EmailPlatform.Status.Webhooks;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using MimeKit;

namespace EmailPlatform.Status.Suppressions;

public sealed record PutSuppressionRequest(string? Reason, DateTimeOffset? ExpiresAt);

public sealed record ImportSuppressionItem(string? Email, string? Reason, DateTimeOffset? ExpiresAt);

/// <param name="Imported">Suppressions stored: one per address, however often the import named it.</param>
/// <param name="KeptHardBounces">Items with an expiry left out because their address is suppressed for good by a hard bounce.</param>
/// <param name="KeptComplaints">Items with an expiry left out because their address is suppressed for good by a complaint.</param>
public sealed record ImportResponse(string Object, int Imported, int KeptHardBounces, int KeptComplaints);

public sealed record SuppressionResponse(
    string Object, string Email, string Reason, string Source, Guid? SourceEventId, Guid? SourceEmailId, string? EnhancedCode,
    DateTime CreatedAt, DateTime UpdatedAt, DateTime? ExpiresAt)
{
    public static SuppressionResponse Create(SuppressionRecord s) => new(
        "suppression", s.Address, s.Reason, s.Source, s.SourceEventId, s.SourceEmailId, s.EnhancedCode, s.CreatedAt, s.UpdatedAt, s.ExpiresAt);
}

/// <summary>
/// <c>/v1/suppressions</c>: reads with the <c>read</c> scope (the delivery workers download the list's filter,
/// <see cref="SuppressionFilterEndpoint"/>, and look up an address it may hold: <c>GET /v1/suppressions/{address}</c>,
/// 200 suppressed, 404 not), changes with <c>admin</c>. Expired entries
/// count as absent, so an expiry must be in the future. A suppression a hard bounce (the address is dead) or a complaint
/// (the recipient wants no more) made is for good: a PUT or an import with an expiry does not shorten it behind the
/// operator's back (a PUT is 409, an import keeps it and counts it); lifting it takes a DELETE, after which it can be
/// suppressed for a while like any address.
/// Each <c>{address}</c> route reads its address through <see cref="AddressRoute"/>, so that one with a <c>/</c> (sent as
/// <c>%2F</c>) is the address stored.
/// </summary>
public static class SuppressionsEndpoints
{
    public const int MaxImport = 10_000;

    /// <summary>The problem of a PUT whose expiry would lift a hard bounce's suppression.</summary>
    public const string HardBounceSuppression = "hard_bounce_suppression";

    /// <summary>The problem of a PUT whose expiry would lift a complaint's suppression.</summary>
    public const string ComplaintSuppression = "complaint_suppression";

    private static readonly IdnMapping Idn = new();

    public static RouteGroupBuilder MapSuppressions(this IEndpointRouteBuilder routes)
    {
        var group = routes.MapGroup("/v1/suppressions").WithTags("Suppressions").RequireAuthorization(ApiKeyScopes.Read);
        group.MapGet("/", ListAsync).WithName("ListSuppressions").WithSummary("Suppressed addresses in address order; search matches a part of the address.");
        group.MapSuppressionFilter();
        group.MapGet("/{address}", GetAsync).WithName("GetSuppression").WithSummary("200 when the address is suppressed, 404 when it may be sent to.");
        group.MapPut("/{address}", PutAsync).WithName("PutSuppression").RequireAuthorization(ApiKeyScopes.Admin);
        group.MapDelete("/{address}", DeleteAsync).WithName("DeleteSuppression").RequireAuthorization(ApiKeyScopes.Admin);
        group.MapPost("/import", ImportAsync).WithName("ImportSuppressions").RequireAuthorization(ApiKeyScopes.Admin)
            .WithSummary($"Adds or replaces up to {MaxImport} suppressions: [{{email, reason, expires_at?}}].");
        return group;
    }

    internal static async Task<Results<Ok<ListResponse<SuppressionResponse>>, ValidationProblem>> ListAsync(
        StatusDbContext db, TimeProvider clock, CancellationToken cancellationToken, string? search = null, string? limit = null, string? after = null)
    {
        var errors = new Dictionary<string, string[]>();
        var take = PageLimit.Parse(limit, errors);
        if (errors.Count > 0)
        {
            return ApiProblems.Validation(errors);
        }

        var now = clock.GetUtcNow().UtcDateTime;
        var query = db.Suppressions.AsNoTracking().Where(s => s.ExpiresAt == null || s.ExpiresAt > now);
        if (!string.IsNullOrWhiteSpace(search))
        {
            // Addresses are stored with their domain in Unicode (AddressKeys), so a search in punycode is made in that
            // form too; either may match.
            var part = search.Trim().ToLowerInvariant();
            query = UnicodeForm(part) is { } unicode
                ? query.Where(s => s.Address.Contains(part) || s.Address.Contains(unicode))
                : query.Where(s => s.Address.Contains(part));
        }

        if (!string.IsNullOrEmpty(after))
        {
            // The cursor is an address of the list: in the form the list is ordered by, whatever form the client sent.
            var from = Key(after);
            query = query.Where(s => string.Compare(s.Address, from) > 0);
        }

        var page = await query.OrderBy(s => s.Address).Take(take + 1).ToListAsync(cancellationToken);
        return TypedResults.Ok(ListResponse<SuppressionResponse>.Of(page.Take(take).Select(SuppressionResponse.Create).ToList(), page.Count > take));
    }

    internal static async Task<Results<Ok<SuppressionResponse>, ProblemHttpResult>> GetAsync(
        string address, StatusDbContext db, TimeProvider clock, CancellationToken cancellationToken)
    {
        var key = Key(AddressRoute.Decode(address));
        var now = clock.GetUtcNow().UtcDateTime;
        var suppression = await db.Suppressions.AsNoTracking()
            .SingleOrDefaultAsync(s => s.Address == key && (s.ExpiresAt == null || s.ExpiresAt > now), cancellationToken);
        return suppression is null ? NotFound(address) : TypedResults.Ok(SuppressionResponse.Create(suppression));
    }

    internal static async Task<Results<Ok<SuppressionResponse>, ValidationProblem, ProblemHttpResult>> PutAsync(
        string address, PutSuppressionRequest request, StatusDbContext db, TimeProvider clock, CancellationToken cancellationToken)
    {
        address = AddressRoute.Decode(address);
        var now = clock.GetUtcNow().UtcDateTime;
        var errors = Validate(address, request.Reason, "reason");
        if (ValidateExpiry(request.ExpiresAt, now) is { } expiry)
        {
            errors["expires_at"] = [expiry];
        }

        if (errors.Count > 0)
        {
            return ApiProblems.Validation(errors);
        }

        var item = new ImportSuppressionItem(address, request.Reason, request.ExpiresAt);
        var (stored, kept) = await UpsertAsync(db, [item], SuppressionSources.Api, now, cancellationToken);
        const string Instead = "Put it without expires_at, or DELETE the suppression first to suppress it for a while.";
        return kept switch
        {
            [] => TypedResults.Ok(SuppressionResponse.Create(stored[0])),
            [{ Source: SuppressionSources.Complaint }] => ApiProblems.Problem(StatusCodes.Status409Conflict, ComplaintSuppression,
                "Suppressed for good by a complaint.",
                "The recipient complained about an email sent to this address (marked it as spam); an expiry would send to it " +
                "again once it passed. " + Instead),
            _ => ApiProblems.Problem(StatusCodes.Status409Conflict, HardBounceSuppression, "Suppressed for good by a hard bounce.",
                "A hard bounce suppressed this address for good; an expiry would send to it again once it passed. " + Instead),
        };
    }

    internal static async Task<Results<NoContent, ProblemHttpResult>> DeleteAsync(string address, StatusDbContext db, CancellationToken cancellationToken)
    {
        var key = Key(AddressRoute.Decode(address));
        var deleted = await db.Suppressions.Where(s => s.Address == key).ExecuteDeleteAsync(cancellationToken);
        return deleted == 0 ? NotFound(address) : TypedResults.NoContent();
    }

    internal static async Task<Results<Ok<ImportResponse>, ValidationProblem>> ImportAsync(
        List<ImportSuppressionItem?> items, StatusDbContext db, TimeProvider clock, CancellationToken cancellationToken)
    {
        var now = clock.GetUtcNow().UtcDateTime;
        var errors = new Dictionary<string, string[]>();
        if (items.Count > MaxImport)
        {
            errors["$"] = [$"Import at most {MaxImport} suppressions at once."];
        }

        for (var i = 0; i < items.Count && errors.Count < 20; i++)
        {
            if (items[i] is not { } item)
            {
                errors[$"[{i}]"] = ["Each item is an object: {\"email\": …, \"reason\": …, \"expires_at\": …}."];
                continue;
            }

            foreach (var (field, messages) in Validate(item.Email, item.Reason ?? "imported", "reason"))
            {
                errors[$"[{i}].{(field == "address" ? "email" : field)}"] = messages;
            }

            if (ValidateExpiry(item.ExpiresAt, now) is { } expiry)
            {
                errors[$"[{i}].expires_at"] = [expiry];
            }
        }

        if (errors.Count > 0)
        {
            return ApiProblems.Validation(errors);
        }

        // An address named twice is suppressed as its last item says, as the same PUTs in that order would leave it.
        var unique = items.Select(i => i!).Reverse().DistinctBy(i => Key(i.Email!)).Reverse().ToList();
        var (stored, kept) = await UpsertAsync(db, unique, SuppressionSources.Import, now, cancellationToken);
        return TypedResults.Ok(new ImportResponse("import", stored.Count, kept.Count(s => s.Source == SuppressionSources.Bounce),
            kept.Count(s => s.Source == SuppressionSources.Complaint)));
    }

    /// <summary>
    /// Adds or replaces the suppressions of distinct addresses in one transaction, reading the existing ones in one query.
    /// An item with an expiry leaves a suppression that is for good (<see cref="SuppressionSources.IsForGood"/>) as it is,
    /// and is returned in <c>Kept</c> rather than stored.
    /// What is decided from the read must still hold at the write, or a hard bounce recorded in between (the recorder's
    /// <see cref="AutoSuppression"/>) would be overwritten, or given the expiry: so the read holds the rows until the commit.
    /// On PostgreSQL it locks them (<c>FOR UPDATE</c>, in address order so that two imports wait rather than deadlock), and a
    /// recorder's write of one waits for the commit; on SQLite the transaction takes the database's write lock
    /// (<c>BEGIN IMMEDIATE</c>) before the read, and every other writer waits. A row that is absent cannot be locked:
    /// another writer (a PUT, an import, a hard bounce) may insert the address in between, and then this save fails on the
    /// key, changes nothing, and is made again over what is there now. So is a transaction that PostgreSQL aborts to break a
    /// deadlock: this one holds the rows that exist while it inserts the new ones, so another writer that holds one of the
    /// new addresses (a recorder's batch suppressing it) and then wants one of the locked rows closes a cycle.
    /// </summary>
    private const int MaxUpsertAttempts = 3;

    private static async Task<(List<SuppressionRecord> Stored, List<SuppressionRecord> Kept)> UpsertAsync(
        StatusDbContext db, IReadOnlyList<ImportSuppressionItem> items, string source, DateTime now, CancellationToken cancellationToken)
    {
        var keys = items.Select(i => Key(i.Email!)).ToArray();
        for (var attempt = 1; ; attempt++)
        {
            await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
            var existing = await (db.Database.IsNpgsql()
                    ? db.Suppressions.FromSql($"SELECT * FROM suppressions WHERE address = ANY({keys}) ORDER BY address FOR UPDATE")
                    : db.Suppressions.Where(s => keys.Contains(s.Address)))
                .ToDictionaryAsync(s => s.Address, cancellationToken);
            var stored = new List<SuppressionRecord>(items.Count);
            var kept = new List<SuppressionRecord>();
            foreach (var (item, key) in items.Zip(keys))
            {
                if (existing.TryGetValue(key, out var forGood) && forGood.IsForGood() && item.ExpiresAt is not null)
                {
                    kept.Add(forGood);
                    continue;
                }

                if (!existing.TryGetValue(key, out var suppression))
                {
                    suppression = new SuppressionRecord { Address = key, Reason = "", Source = source, CreatedAt = now };
                    db.Suppressions.Add(suppression);
                }
                else if (suppression.IsForGood())
                {
                    // A hard bounce's or a complaint's suppression stays theirs (permanent, with its source event): an item
                    // without an expiry changes only its reason, so that a later one with an expiry is refused like the first.
                    suppression.Reason = item.Reason ?? suppression.Reason;
                    suppression.UpdatedAt = now;
                    stored.Add(suppression);
                    continue;
                }

                suppression.Reason = item.Reason ?? "Imported.";
                suppression.Source = source;
                suppression.SourceEventId = null;
                suppression.SourceEmailId = null;
                suppression.EnhancedCode = null;
                suppression.ExpiresAt = item.ExpiresAt?.UtcDateTime;
                suppression.UpdatedAt = now;
                stored.Add(suppression);
            }

            try
            {
                await db.SaveChangesAsync(cancellationToken);
                await transaction.CommitAsync(cancellationToken);
                return (stored, kept);
            }
            catch (Exception ex) when (attempt < MaxUpsertAttempts
                && (ex is DbUpdateException update && StoreErrors.IsUniqueViolation(update) || StoreErrors.IsDeadlockOrSerializationFailure(ex)))
            {
                // The transaction is rolled back as the loop goes round (its disposal), before the next read.
                db.ChangeTracker.Clear();
            }
        }
    }

    private static string Key(string address) => AddressKeys.Of(address);

    /// <summary>
    /// A search text with each whole punycode label of its domain part (<c>xn--bcher-kva</c>, the text after its last
    /// <c>@</c>, or all of it without one) in Unicode (<c>bücher</c>), as <see cref="AddressKeys.Of"/> stores a domain;
    /// null when it has none, or one that is not valid punycode. Only whole labels can be: a part of one (<c>xn--bch</c>)
    /// stands for no part of the Unicode name, and finds what it finds as written.
    /// </summary>
    private static string? UnicodeForm(string part)
    {
        var at = part.LastIndexOf('@');
        if (part.IndexOf("xn--", at + 1, StringComparison.Ordinal) < 0)
        {
            return null;
        }

        var labels = part[(at + 1)..].Split('.');
        for (var i = 0; i < labels.Length; i++)
        {
            if (labels[i].StartsWith("xn--", StringComparison.Ordinal))
            {
                try
                {
                    labels[i] = Idn.GetUnicode(labels[i]).ToLowerInvariant();
                }
                catch (ArgumentException)
                {
                    return null;
                }
            }
        }

        var unicode = part[..(at + 1)] + string.Join('.', labels);
        return unicode == part ? null : unicode;
    }

    private static string? ValidateExpiry(DateTimeOffset? expiresAt, DateTime now) =>
        expiresAt is { } at && at.UtcDateTime <= now
            ? "expires_at must be in the future: an entry that has expired is no suppression (to lift one, DELETE it)."
            : null;

    private static Dictionary<string, string[]> Validate(string? address, string? reason, string reasonField)
    {
        var errors = new Dictionary<string, string[]>();
        if (string.IsNullOrWhiteSpace(address) || address.Length > 320 || address.Any(char.IsControl) || !MailboxAddress.TryParse(address.Trim(), out var parsed)
            || Key(parsed.Address) != Key(address) || !address.Contains('@', StringComparison.Ordinal))
        {
            errors["address"] = ["The address must be a plain email address (local@domain) of at most 320 characters."];
        }

        if (string.IsNullOrWhiteSpace(reason) || reason.Length > 1000 || reason.Contains('\0', StringComparison.Ordinal))
        {
            errors[reasonField] = ["reason is required (at most 1000 characters, without NUL)."];
        }

        return errors;
    }

    private static ProblemHttpResult NotFound(string address) => ApiProblems.Problem(
        StatusCodes.Status404NotFound, ApiProblems.NotFound, "Not suppressed.", "The address is not on the suppression list.");
}
