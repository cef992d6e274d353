using System.Linq.Expressions;
using Microsoft.EntityFrameworkCore;

namespace EmailPlatform.ServiceDefaults.Paging;

/// <summary>A stored record listed by <see cref="NewestFirst"/>.</summary>
public interface IListedRecord
{
    Guid Id { get; }

    DateTime CreatedAt { get; }
}

/// <summary>
/// A page of a list shown newest first (created_at, then id, descending), paged the way Resend's lists and our
/// <c>GET /v1/emails</c> are: <c>limit</c> (<see cref="PageLimit"/>), and either <c>after=ID</c>, the items older than
/// that one (the next page), or <c>before=ID</c>, the items newer than it (the page before), still newest first;
/// <c>has_more</c> says whether there are more in the direction paged. A cursor must be the id of an item of the list:
/// any other is refused under its name, never read as "from the start", which would show the first page again as if it
/// were the next. Keyset paging: an item added or removed between two pages moves none of the others.
/// </summary>
public static class NewestFirst
{
    /// <summary>
    /// The page of <paramref name="list"/> asked for, each item through <paramref name="select"/>; null, with the reasons
    /// in <paramref name="errors"/>, when the request is not one.
    /// </summary>
    /// <param name="noun">What the list holds, for the errors (<c>"an API key"</c>).</param>
    public static async Task<(List<TItem> Items, bool HasMore)?> ReadAsync<TRecord, TItem>(
        IQueryable<TRecord> list, Expression<Func<TRecord, TItem>> select, string? limit, string? after, string? before,
        string noun, Dictionary<string, string[]> errors, CancellationToken cancellationToken)
        where TRecord : class, IListedRecord
    {
        var take = PageLimit.Parse(limit, errors);
        if (after is not null && before is not null)
        {
            errors["before"] = ["Use one of after and before."];
            return null;
        }

        var (name, value) = after is not null ? ("after", after) : ("before", before);
        DateTime createdAt = default;
        var id = Guid.Empty;
        if (value is not null)
        {
            var anchor = Guid.TryParse(value, out id)
                ? await list.Where(r => r.Id == id).Select(r => new { r.CreatedAt }).SingleOrDefaultAsync(cancellationToken)
                : null;
            if (anchor is null)
            {
                errors[name] = [$"{name} must be the id of {noun} in this list."];
                return null;
            }

            createdAt = anchor.CreatedAt;
        }

        if (errors.Count > 0)
        {
            return null;
        }

        if (value is not null && name == "before")
        {
            var newer = await list.Where(r => r.CreatedAt > createdAt || (r.CreatedAt == createdAt && r.Id.CompareTo(id) > 0))
                .OrderBy(r => r.CreatedAt).ThenBy(r => r.Id).Take(take + 1).Select(select).ToListAsync(cancellationToken);
            return ([.. newer.Take(take).Reverse()], newer.Count > take);
        }

        if (value is not null)
        {
            list = list.Where(r => r.CreatedAt < createdAt || (r.CreatedAt == createdAt && r.Id.CompareTo(id) < 0));
        }

        var page = await list.OrderByDescending(r => r.CreatedAt).ThenByDescending(r => r.Id).Take(take + 1).Select(select)
            .ToListAsync(cancellationToken);
        return ([.. page.Take(take)], page.Count > take);
    }
}
